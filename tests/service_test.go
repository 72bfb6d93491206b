package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens where a service manager would ($NOTIFY_SOCKET) and
// collects the datagrams the daemon sends.
type notifySocket struct {
	path string
	got  chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifySocket{path: path, got: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.got <- string(buf[:k])
		}
	}()
	return n
}

// await returns the first datagram with a line starting with prefix, and
// fails if none comes within the mount timeout.
func (n *notifySocket) await(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(mountTimeout)
	for {
		select {
		case msg := <-n.got:
			for _, l := range strings.Split(msg, "\n") {
				if strings.HasPrefix(l, prefix) {
					return l
				}
			}
		case <-deadline:
			t.Fatalf("the service manager never heard %s", prefix)
			return ""
		}
	}
}

// scrape reads the metrics and returns each sample's value by its name
// and labels as written ("coffer_written_bytes_total",
// `coffer_fuse_request_duration_seconds_count{op="write"}`).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %d %v", url, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// waitMetric scrapes until cond holds for the sample name.
func waitMetric(t *testing.T, url, name string, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(mountTimeout)
	for {
		v, ok := scrape(t, url)[name]
		if ok && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %s = %v (present %v): condition never held", name, v, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsonLog parses the daemon's log, one JSON object a line, and fails on
// any line that is not one.
func jsonLog(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q (%v)", l, err)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log record %q lacks %q", l, k)
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// A mount run as a systemd Type=notify service: the manager hears
// READY=1, a STATUS= after each snapshot, watchdog pings and STOPPING=1;
// the metrics move while a file is written; the JSON log parses; and
// `coffer snapshot` prints its summary line.
func TestRunningAsAService(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		n := listenNotify(t)
		t.Setenv("NOTIFY_SOCKET", n.path)
		t.Setenv("WATCHDOG_USEC", "400000")
		dir := filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m := r.startMount(t, dir, "--log-format", "json", "--metrics-listen", "127.0.0.1:0")
		n.await(t, "READY=1")
		if !isMounted(t, dir) {
			t.Fatal("READY=1 before the kernel shows the mount")
		}
		n.await(t, "WATCHDOG=1")

		var url string
		for _, rec := range jsonLog(t, m.log()) {
			if rec["msg"] == "metrics served" {
				url, _ = rec["url"].(string)
			}
		}
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Fatalf("no metrics URL on loopback in the log:\n%s", m.log())
		}

		// Write 16 MiB, keeping the file open half-way: the counters
		// must move during the write, not only at the commit.
		data := make([]byte, 16<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data[:8<<20]); err != nil {
			t.Fatal(err)
		}
		mid := waitMetric(t, url, "coffer_written_bytes_total", func(v float64) bool { return v > 0 })
		if v := scrape(t, url)[`coffer_fuse_request_duration_seconds_count{op="write"}`]; v == 0 {
			t.Error("no FUSE write latency observed during the write")
		}
		if _, err := f.Write(data[8<<20:]); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		waitMetric(t, url, "coffer_written_bytes_total", func(v float64) bool { return v > mid })

		res := r.mustCoffer(t, longTimeout, "snapshot", dir)
		id := strings.TrimSpace(res.stdout)
		summary := regexp.MustCompile(`^coffer: snapshot committed: 1 file, 16\.0 MiB; (1[6-9]\.\d) MiB new in the store; took \S+\n$`)
		if !summary.MatchString(res.stderr) {
			t.Errorf("snapshot summary line %q, want files, 16 MiB, about 16 MiB new, duration", res.stderr)
		}
		status := n.await(t, "STATUS=serving "+dir+"; last snapshot")
		if !strings.Contains(status, "1 file") {
			t.Errorf("status after the commit %q does not name the snapshot's files", status)
		}
		after := scrape(t, url)
		if after["coffer_uploaded_bytes_total"] < 16<<20 || after["coffer_last_snapshot_timestamp_seconds"] == 0 ||
			after["coffer_snapshots_committed_total"] != 1 || after["coffer_packs_pending"] != 0 {
			t.Errorf("after the commit: uploaded %v, last snapshot %v, commits %v, pending %v",
				after["coffer_uploaded_bytes_total"], after["coffer_last_snapshot_timestamp_seconds"],
				after["coffer_snapshots_committed_total"], after["coffer_packs_pending"])
		}

		// The same bytes again: deduplicated, nothing much new stored.
		if err := os.WriteFile(filepath.Join(dir, "copy.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		res = r.mustCoffer(t, longTimeout, "snapshot", "--json", dir)
		var js struct {
			ID      string  `json:"id"`
			Files   uint64  `json:"files"`
			Size    uint64  `json:"size"`
			Added   int64   `json:"data_added"`
			Seconds float64 `json:"seconds_elapsed"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &js); err != nil || js.ID == "" || js.ID == id ||
			js.Files != 2 || js.Size != 32<<20 || js.Added <= 0 || js.Added > 4<<20 || js.Seconds <= 0 {
			t.Errorf("coffer snapshot --json = %q (%v), want a new snapshot of 2 files, 32 MiB, a little added", res.stdout, err)
		}
		if res.stderr != "" {
			t.Errorf("coffer snapshot --json wrote %q to stderr", res.stderr)
		}
		dedup := scrape(t, url)["coffer_deduplicated_bytes_total"]
		if dedup < 15<<20 {
			t.Errorf("deduplicated %v bytes of a 16 MiB copy", dedup)
		}

		m.umount(t)
		n.await(t, "STOPPING=1")
		for _, rec := range jsonLog(t, m.log()) {
			if rec["level"] == "ERROR" {
				t.Errorf("error in the log: %v", rec)
			}
		}
	})
}

// --quiet leaves only results, warnings and errors: no "mounted" line and
// no info-level log lines from the daemon, only the ID from `coffer
// snapshot`, nothing from `coffer umount`.
func TestQuiet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		n := listenNotify(t)
		t.Setenv("NOTIFY_SOCKET", n.path)
		dir := filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m := r.startMount(t, dir, "--quiet")
		n.await(t, "READY=1")
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("quiet\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := r.mustCoffer(t, longTimeout, "--quiet", "snapshot", dir)
		if res.stderr != "" || !regexp.MustCompile(`^[0-9a-f]{32}\n$`).MatchString(res.stdout) {
			t.Errorf("coffer --quiet snapshot: stdout %q, stderr %q; want the ID alone", res.stdout, res.stderr)
		}
		res = r.mustCoffer(t, longTimeout, "umount", "-q", dir)
		if res.stdout != "" || res.stderr != "" {
			t.Errorf("coffer umount -q printed %q, %q", res.stdout, res.stderr)
		}
		if err := m.waitExit(t, longTimeout); err != nil {
			t.Fatalf("daemon exited with %v", err)
		}
		if log := m.log(); log != "" {
			t.Errorf("coffer mount --quiet logged:\n%s", log)
		}
		// Without --quiet the same commands speak, so the checks above
		// can fail.
		m = r.mount(t)
		res = r.mustCoffer(t, longTimeout, "snapshot", m.dir)
		if !bytes.Contains([]byte(res.stderr), []byte("snapshot committed")) {
			t.Errorf("coffer snapshot without --quiet: stderr %q, want the summary", res.stderr)
		}
		m.umount(t)
	})
}

// mountOptions turns the backend's flags and the repository's key into
// fstab options (--insecure-http → insecure-http).
func (r *repo) mountOptions(extra ...string) string {
	opts := []string{"key-file=" + r.keyFile, "cache-dir=" + filepath.Join(r.scratch, "cache"), "_netdev", "nofail", "rw"}
	for _, f := range r.be.flags {
		opts = append(opts, strings.TrimPrefix(f, "--"))
	}
	return strings.Join(append(opts, extra...), ",")
}

// coffer as mount(8)'s helper (/sbin/mount.fuse.coffer, a symlink to
// coffer) for a fuse.coffer line in /etc/fstab: it returns once the
// mount serves, the daemon lives on in its own session, and coffer
// umount stops it; a failure before serving is the helper's exit status.
func TestMountHelper(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		helper := filepath.Join(t.TempDir(), "mount.fuse.coffer")
		if err := os.Symlink(cofferBin, helper); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		logFile := filepath.Join(r.scratch, "daemon.log")
		t.Cleanup(func() {
			if isMounted(t, dir) { // the helper's daemon is not ours to kill by PID: unmount, it exits
				_ = syscall.Unmount(dir, syscall.MNT_DETACH)
			}
			if t.Failed() {
				b, _ := os.ReadFile(logFile)
				t.Logf("daemon log:\n%s", b)
			}
		})
		res := run(t, longTimeout, r.env(), helper, r.be.repoURL, dir, "-n", "-o", r.mountOptions("log-file="+logFile))
		if res.err != nil {
			t.Fatalf("mount.fuse.coffer: %v", res)
		}
		if !isMounted(t, dir) {
			t.Fatal("the helper returned before the mount was up")
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("from fstab\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res = r.mustCoffer(t, longTimeout, "umount", dir)
		if !strings.Contains(res.stdout, "committed snapshot") {
			t.Errorf("coffer umount: %v", res)
		}
		deadline := time.Now().Add(mountTimeout)
		for isMounted(t, dir) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if isMounted(t, dir) {
			t.Fatal("still mounted after coffer umount")
		}
		if snaps := r.snapshots(t); len(snaps) != 1 || snaps[0].Files != 1 {
			t.Errorf("snapshots after the helper's mount: %+v", snaps)
		}

		// A wrong key fails the helper with the daemon's exit status
		// (3), the reason in the log.
		bad := filepath.Join(t.TempDir(), "bad.key")
		r.mustCoffer(t, shortTimeout, "key", "generate", bad)
		res = run(t, longTimeout, r.env(), helper, r.be.repoURL, dir, "-o", r.mountOptions("key-file="+bad, "log-file="+logFile))
		if res.exitCode() != 3 || !strings.Contains(res.stderr, logFile) || isMounted(t, dir) {
			t.Errorf("helper with a wrong key: exit %d, %v", res.exitCode(), res)
		}
		// An unknown option is refused before anything starts.
		res = run(t, shortTimeout, r.env(), helper, r.be.repoURL, dir, "-o", "key-file="+r.keyFile+",frobnicate")
		if res.exitCode() != 2 || !strings.Contains(res.stderr, "frobnicate") {
			t.Errorf("helper with an unknown option: exit %d, %v", res.exitCode(), res)
		}
	})
}

// metricsURL is where a mount started with --metrics-listen serves, from
// its text log.
func metricsURL(t *testing.T, m *mount) string {
	t.Helper()
	re := regexp.MustCompile(`msg="metrics served" url=(http://127\.0\.0\.1:\d+/metrics)`)
	deadline := time.Now().Add(mountTimeout)
	for {
		if sub := re.FindStringSubmatch(m.log()); sub != nil {
			return sub[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics URL in the log:\n%s", m.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An S3 outage shows in the metrics while it lasts (upload errors,
// retries, a pack pending) and the pending count goes back to zero once
// the store heals and a snapshot commits.
func TestMetricsDuringOutage(t *testing.T) {
	be, px := proxiedS3Backend(t)
	r := newRepo(t, be)
	m := r.mount(t, "--metrics-listen", "127.0.0.1:0")
	url := metricsURL(t, m)
	px.set(proxyRule{Fault: slowDown503, Method: "PUT", Every: 1})
	data := make([]byte, 20<<20) // more than a pack: one is uploaded before the commit
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "during-outage"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, url, "coffer_upload_retries_total", func(v float64) bool { return v > 0 })
	during := scrape(t, url)
	if during["coffer_upload_errors_total"] == 0 || during["coffer_packs_pending"] == 0 {
		t.Errorf("during the outage: %v upload errors, %v packs pending", during["coffer_upload_errors_total"], during["coffer_packs_pending"])
	}
	px.set(proxyRule{})
	m.snapshot(t)
	after := scrape(t, url)
	if after["coffer_packs_pending"] != 0 || after["coffer_upload_errors_total"] < during["coffer_upload_errors_total"] {
		t.Errorf("after the outage: %v packs pending, %v upload errors (were %v)", after["coffer_packs_pending"],
			after["coffer_upload_errors_total"], during["coffer_upload_errors_total"])
	}
	m.umount(t)
}
