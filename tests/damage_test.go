package tests

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/s3"
)

// TestDamageStaysLocal: a corrupt index, planted junk objects (locked for
// a century where the bucket has object lock) in index/ and snapshots/,
// and a corrupt unused key slot each leave the repository usable: every
// command still works, the damage is named in warnings, intact files read
// back identical from the snapshot and the head, files whose blocks are
// damaged or whose pack is missing are EIO with a log line naming the
// object, and new backups go on.
func TestDamageStaysLocal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		st := storeOf(t, be)
		rng := newRand(t.Name())
		files := map[string][]byte{
			"a/one":       randBytes(rng, 300*kib),
			"a/two":       randBytes(rng, 5*kib),
			"b/three":     randBytes(rng, 2*mib+17),
			"b/sub/four":  randBytes(rng, 70*kib),
			"b/sub/empty": {},
		}
		m := r.mount(t, "--checkpoint-every", "0")
		for _, name := range []string{"a/one", "a/two"} {
			putFile(t, filepath.Join(m.dir, name), files[name])
		}
		m.snapshot(t)
		// Each victim is written and fsynced alone, so its blocks are
		// the only ones in the packs that appear meanwhile. The index
		// naming the missing one stays intact, the others are corrupted.
		missing := victim(t, st, filepath.Join(m.dir, "missing.bin"), randBytes(rng, 3*mib))
		indexAfterFirst := listKeys(t, st, "index/")
		damaged := victim(t, st, filepath.Join(m.dir, "damaged.bin"), randBytes(rng, 3*mib))
		for _, name := range []string{"b/three", "b/sub/four", "b/sub/empty"} {
			putFile(t, filepath.Join(m.dir, name), files[name])
		}
		second := m.snapshot(t)
		m.umount(t)

		spare := filepath.Join(r.scratch, "spare-key")
		r.mustCoffer(t, shortTimeout, "key", "generate", spare)
		res := r.mustCoffer(t, longTimeout, append(append([]string{"key", "add"}, r.repoArgs()...), "--new-key-file", spare)...)
		slot := regexp.MustCompile(`[0-9a-f]{16}`).FindString(res.stdout)
		if slot == "" {
			t.Fatalf("key add printed no slot ID: %v", res)
		}

		// The damage.
		var corrupted []string
		for _, k := range newKeyList(indexAfterFirst, listKeys(t, st, "index/")) {
			flipByte(t, objectFile(t, be, k), 0.5)
			corrupted = append(corrupted, k)
		}
		if len(corrupted) == 0 {
			t.Fatal("the second snapshot wrote no index object")
		}
		planted := []string{"index/" + strings.Repeat("0", 32), "snapshots/README", "snapshots/" + strings.Repeat("f", 32)}
		for _, k := range planted {
			plant(t, st, k, randBytes(rng, 200))
		}
		flipByte(t, objectFile(t, be, "keys/"+slot), 0.5)
		for _, p := range missing {
			if err := os.Remove(objectFile(t, be, p)); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range damaged {
			flipByte(t, objectFile(t, be, p), 0.3)
		}
		indexBefore := listKeys(t, st, "index/")

		// Every command works, and names what it skipped.
		res = r.coffer(t, longTimeout, append(append([]string{"snapshots"}, r.repoArgs()...), "--json")...)
		if res.err != nil {
			t.Fatalf("coffer snapshots with damage: %v", res)
		}
		var list []snapInfo
		if err := json.Unmarshal([]byte(res.stdout), &list); err != nil || len(list) != 2 || list[1].ID != second {
			t.Fatalf("coffer snapshots listed %s, want the two snapshots (err %v)", res.stdout, err)
		}
		for _, k := range append(corrupted, planted...) {
			if !strings.Contains(res.stderr, k) {
				t.Errorf("coffer snapshots did not warn about %s:\n%s", k, res.stderr)
			}
		}
		repaired := newKeyList(indexBefore, listKeys(t, st, "index/"))
		if len(repaired) != 1 {
			t.Errorf("index objects written by the repair: %v, want one", repaired)
		}

		// The snapshot reads back: intact files identical, damaged ones EIO.
		snap := r.mount(t, "--snapshot", second)
		checkFiles(t, snap.dir, files)
		for _, name := range []string{"missing.bin", "damaged.bin"} {
			if _, err := os.ReadFile(filepath.Join(snap.dir, name)); !errors.Is(err, syscall.EIO) {
				t.Errorf("reading %s: %v, want EIO", name, err)
			}
		}
		snap.umount(t)
		log := snap.log()
		if !strings.Contains(log, "data is missing or damaged") || !strings.Contains(log, missing[0]) {
			t.Errorf("no log line naming the missing pack %s:\n%s", missing[0], log)
		}

		// Backups go on from the head.
		head := r.mount(t, "--checkpoint-every", "0")
		checkFiles(t, head.dir, files)
		if _, err := os.ReadFile(filepath.Join(head.dir, "missing.bin")); !errors.Is(err, syscall.EIO) {
			t.Errorf("reading a file of a missing pack in the head: %v, want EIO", err)
		}
		files["c/new"] = randBytes(rng, 100*kib)
		putFile(t, filepath.Join(head.dir, "c/new"), files["c/new"])
		third := head.snapshot(t)
		head.umount(t)
		again := r.mount(t, "--snapshot", third)
		checkFiles(t, again.dir, files)
		again.umount(t)

		// The damaged slot's key file is refused, not a crash or a lockout.
		res = r.coffer(t, shortTimeout, append([]string{"snapshots", "--repo", be.repoURL, "--key-file", spare}, be.flags...)...)
		if res.exitCode() != 3 {
			t.Errorf("the damaged slot's key: exit %d, want 3 (wrong key): %v", res.exitCode(), res)
		}
	})
}

// TestDamagedLatestSnapshot: when the latest snapshot's root tree is gone,
// the head is not served as an empty directory: the mount is refused,
// naming the damage and the way on, and the older snapshot still mounts.
func TestDamagedLatestSnapshot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		st := storeOf(t, be)
		rng := newRand(t.Name())
		files := map[string][]byte{"a/one": randBytes(rng, 100*kib)}
		m := r.mount(t, "--checkpoint-every", "0")
		putFile(t, filepath.Join(m.dir, "a/one"), files["a/one"])
		first := m.snapshot(t)
		packs := listKeys(t, st, "data/")
		putFile(t, filepath.Join(m.dir, "b/two"), randBytes(rng, 10*kib))
		latest := m.snapshot(t)
		m.umount(t)
		for _, p := range newKeyList(packs, listKeys(t, st, "data/")) {
			if err := os.Remove(objectFile(t, be, p)); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(t.TempDir(), "mnt")
		must(t, os.Mkdir(dir, 0o755))
		bad := r.startMount(t, dir, "--checkpoint-every", "0")
		if err := bad.waitExit(t, mountTimeout); err == nil {
			t.Fatal("the head mounted on a snapshot whose root tree is missing")
		}
		if log := bad.log(); !strings.Contains(log, "root tree") || !strings.Contains(log, "coffer mount --parent") {
			t.Errorf("the refusal does not name the damage and the way on:\n%s", log)
		}
		old := r.mount(t, "--snapshot", first)
		checkFiles(t, old.dir, files)
		old.umount(t)
		// The damaged snapshot itself mounts, and its root is EIO, not empty.
		damaged := r.mount(t, "--snapshot", latest)
		if _, err := os.ReadDir(damaged.dir); !errors.Is(err, syscall.EIO) {
			t.Errorf("listing a snapshot whose root tree is missing: %v, want EIO", err)
		}
		damaged.umount(t)
		if !strings.Contains(damaged.log(), "load snapshot directory /") {
			t.Errorf("no log line naming the directory:\n%s", damaged.log())
		}
	})
}

// TestSnapshotNamesRoundTrip: every name `coffer snapshots` (text and
// JSON) and .snapshots show is accepted by `mount --snapshot` and mounts
// that snapshot, also for two snapshots made in one second; the time
// they share is refused with the names to use instead.
func TestSnapshotNamesRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t, "--checkpoint-every", "0")
		putFile(t, filepath.Join(m.dir, "f"), []byte("x"))
		m.snapshot(t)
		// Two snapshots in one second: try until the clock obliges.
		var pair []snapInfo
		for try := 0; try < 10 && pair == nil; try++ {
			m.snapshot(t)
			m.snapshot(t)
			list := r.snapshots(t)
			a, b := list[len(list)-2], list[len(list)-1]
			if a.Time == b.Time {
				pair = []snapInfo{a, b}
			}
		}
		if pair == nil {
			t.Fatal("no two snapshots in one second after 10 tries")
		}
		dirs := snapshotDirs(t, m.dir)
		m.umount(t)

		byID := map[string]string{} // every reference shown → the ID it must mount
		args := append([]string{"snapshots"}, r.repoArgs()...)
		var named []namedSnap
		must(t, json.Unmarshal([]byte(r.mustCoffer(t, shortTimeout, append(args, "--json")...).stdout), &named))
		names, times := map[string]bool{}, map[string]int{}
		for _, s := range named {
			times[s.Time]++
		}
		for _, s := range named {
			if names[s.Name] {
				t.Errorf("two snapshots are named %q in --json", s.Name)
			}
			names[s.Name] = true
			byID[s.ID], byID[s.Name] = s.ID, s.ID
			if times[s.Time] == 1 {
				byID[s.Time] = s.ID
			}
		}
		for _, d := range dirs {
			if !names[d] {
				t.Errorf(".snapshots shows %q, which --json does not name", d)
			}
		}
		text := r.mustCoffer(t, shortTimeout, args...).stdout
		for _, line := range strings.Split(strings.TrimSpace(text), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 3 {
				t.Fatalf("coffer snapshots line %q", line)
			}
			for _, s := range named {
				if strings.HasPrefix(s.ID, f[0]) {
					byID[f[0]], byID[f[2]] = s.ID, s.ID
					if times[f[1]] == 1 {
						byID[f[1]] = s.ID
					}
				}
			}
		}
		for ref, id := range byID {
			got := r.mount(t, "--snapshot", ref)
			if !strings.Contains(got.log(), "snapshot "+id) {
				t.Errorf("--snapshot %q mounted something else:\n%s", ref, got.log())
			}
			got.umount(t)
		}
		// The shared time (not a name) is ambiguous, with the names to use.
		for _, ref := range []string{pair[0].Time} {
			dir := filepath.Join(t.TempDir(), "mnt")
			must(t, os.Mkdir(dir, 0o755))
			res := r.coffer(t, shortTimeout, append(append([]string{"mount"}, r.repoArgs()...), "--snapshot", ref, dir)...)
			if res.err == nil || !strings.Contains(res.stderr, "ambiguous") || !strings.Contains(res.stderr, pair[1].ID[:8]) {
				t.Errorf("--snapshot %q: want a refusal naming the snapshots it could mean: %v", ref, res)
			}
		}
	})
}

// TestHiddenSnapshotIsReported: a snapshot that disappears from under
// the newest one (deleted, hidden) is named in a warning by
// `coffer snapshots`, not passed over in silence.
func TestHiddenSnapshotIsReported(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t, "--checkpoint-every", "0")
		putFile(t, filepath.Join(m.dir, "f"), []byte("one"))
		m.snapshot(t)
		putFile(t, filepath.Join(m.dir, "g"), []byte("two"))
		middle := m.snapshot(t)
		putFile(t, filepath.Join(m.dir, "h"), []byte("three"))
		m.snapshot(t)
		m.umount(t)
		must(t, os.Remove(objectFile(t, be, "snapshots/"+middle)))
		res := r.mustCoffer(t, shortTimeout, append([]string{"snapshots"}, r.repoArgs()...)...)
		if !strings.Contains(res.stderr, "warning") || !strings.Contains(res.stderr, middle) {
			t.Errorf("coffer snapshots says nothing of the hidden snapshot %s: %v", middle, res)
		}
	})
}

// namedSnap is an element of `coffer snapshots --json` with its name.
type namedSnap struct {
	ID   string `json:"id"`
	Time string `json:"time"`
	Name string `json:"name"`
}

// storeOf opens the backend's store directly, as an intruder with write
// access (or a broken disk) would reach it.
func storeOf(t *testing.T, be *backend) objectstore.Store {
	t.Helper()
	if be.name == "local" {
		st, err := local.New(be.repoURL, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	bucket, prefix := bucketOf(t, be)
	env := envOf(be)
	st, err := s3.New(context.Background(), s3.Config{
		Bucket: bucket, Prefix: prefix,
		Endpoint: env["AWS_ENDPOINT_URL_S3"], Region: env["AWS_REGION"],
		InsecureHTTP: true, PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// bucketOf splits an S3 backend's repository URL into its bucket and
// its prefix (without slashes at either end).
func bucketOf(t *testing.T, be *backend) (bucket, prefix string) {
	t.Helper()
	u, err := url.Parse(be.repoURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host, strings.Trim(u.Path, "/")
}

// envOf is the backend's environment (endpoint, region, credentials) as a
// map.
func envOf(be *backend) map[string]string {
	env := map[string]string{}
	for _, kv := range be.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// objectFile is the file that holds key's bytes on the backend's disk.
func objectFile(t *testing.T, be *backend, key string) string {
	t.Helper()
	p := filepath.Join(be.repoURL, filepath.FromSlash(key)+"@obj")
	if be.name == "s3" {
		bucket, prefix := bucketOf(t, be)
		p = filepath.Join(be.dataDirs[0], bucket, filepath.FromSlash(prefix), filepath.FromSlash(key))
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("object %s: %v", key, err)
	}
	return p
}

func listKeys(t *testing.T, st objectstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	must(t, st.List(context.Background(), prefix, func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	}))
	return keys
}

func newKeyList(before, after []string) []string {
	old := map[string]bool{}
	for _, k := range before {
		old[k] = true
	}
	var out []string
	for _, k := range after {
		if !old[k] {
			out = append(out, k)
		}
	}
	return out
}

// flipByte inverts one bit of the byte at fraction at of the file.
func flipByte(t *testing.T, path string, at float64) {
	t.Helper()
	must(t, os.Chmod(path, 0o644))
	data, err := os.ReadFile(path)
	must(t, err)
	data[int(float64(len(data))*at)] ^= 0x10
	must(t, os.WriteFile(path, data, 0o644))
}

// plant stores junk under key, under a century of COMPLIANCE retention
// where the store keeps retention, so nobody can remove it.
func plant(t *testing.T, st objectstore.Store, key string, data []byte) {
	t.Helper()
	ret := objectstore.Retention{Mode: objectstore.Compliance, Until: time.Now().AddDate(100, 0, 0)}
	_, err := st.Put(context.Background(), key, data, ret)
	must(t, err)
}

// putFile writes data at path on a mount, making its directories.
func putFile(t *testing.T, path string, data []byte) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	writeFile(t, path, data, 0o644)
}

// victim writes data to path on a mount and fsyncs it, and returns the
// packs that appeared meanwhile: they hold its blocks and nothing else.
func victim(t *testing.T, st objectstore.Store, path string, data []byte) []string {
	t.Helper()
	before := listKeys(t, st, "data/")
	f, err := os.Create(path)
	must(t, err)
	_, err = f.Write(data)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
	packs := newKeyList(before, listKeys(t, st, "data/"))
	if len(packs) == 0 {
		t.Fatalf("fsync of %s stored no pack", path)
	}
	return packs
}

// checkFiles compares every file in want with what dir holds.
func checkFiles(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	for name, data := range want {
		assertFileBytes(t, filepath.Join(dir, name), data)
	}
}
