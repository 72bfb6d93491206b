package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowWriter starts a shell that copies src to dst through one descriptor,
// 64 KiB every 0.1 s, then closes it; it returns once dst exists and the
// writer has written into it, so a stop arrives while the file is open.
func slowWriter(t *testing.T, src, dst string, chunks int) *child {
	t.Helper()
	script := fmt.Sprintf(`exec 3>%q; i=0; while [ $i -lt %d ]; do dd if=%q bs=65536 skip=$i count=1 status=none >&3 || exit 1; i=$((i+1)); sleep 0.1; done; exec 3>&-`,
		dst, chunks, src)
	c := startChild(t, tool(t, "sh"), "-c", script)
	deadline := time.Now().Add(shortTimeout)
	for {
		if fi, err := os.Stat(dst); err == nil && fi.Size() > 0 {
			return c
		}
		if !c.running() || time.Now().After(deadline) {
			t.Fatalf("the writer of %s did not start writing", dst)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitChild waits for a helper to exit and returns its error.
func waitChild(t *testing.T, c *child, timeout time.Duration) error {
	t.Helper()
	select {
	case <-c.done:
		if !c.cmd.ProcessState.Success() {
			return fmt.Errorf("%v", c.cmd.ProcessState)
		}
		return nil
	case <-time.After(timeout):
		t.Fatalf("helper %v still running after %v", c.cmd.Args, timeout)
		return nil
	}
}

// TestStopWaitsForWriters: SIGINT, SIGTERM or `coffer umount` while a file
// is being written waits for it to close, commits it, and exits 0; the file
// reads back whole after a remount, in the head and in the latest snapshot.
func TestStopWaitsForWriters(t *testing.T) {
	tool(t, "dd")
	tool(t, "sleep")
	const chunks = 20 // 1.25 MiB in about 2 s
	src := filepath.Join(t.TempDir(), "src")
	want := randBytes(newRand("stop"), chunks<<16)
	writeFile(t, src, want, 0o644)
	for _, how := range []string{"SIGINT", "SIGTERM", "umount"} {
		t.Run(how, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, be *backend) {
				r := newRepo(t, be)
				m := r.mount(t)
				writeFile(t, filepath.Join(m.dir, "before"), []byte("closed\n"), 0o644)
				w := slowWriter(t, src, filepath.Join(m.dir, "big.bin"), chunks)
				switch how {
				case "SIGINT":
					must(t, m.cmd.Process.Signal(syscall.SIGINT))
				case "SIGTERM":
					must(t, m.cmd.Process.Signal(syscall.SIGTERM))
				case "umount":
					if res := r.coffer(t, longTimeout, "umount", m.dir); res.err != nil {
						t.Fatalf("coffer umount with a writer that closes soon: %v", res)
					}
				}
				if err := m.waitExit(t, longTimeout); err != nil {
					t.Fatalf("daemon exited with %v after %s", err, how)
				}
				if err := waitChild(t, w, shortTimeout); err != nil {
					t.Errorf("the writer failed: %v", err)
				}
				if isMounted(t, m.dir) {
					t.Fatalf("%s still mounted after %s", m.dir, how)
				}
				log := m.log()
				if !strings.Contains(log, "big.bin") {
					t.Errorf("the daemon did not log which file it waited for:\n%s", log)
				}
				m2 := r.startMount(t, m.dir)
				m2.waitReady(t)
				for _, p := range []string{"big.bin", ".snapshots/latest/big.bin"} {
					got, err := os.ReadFile(filepath.Join(m2.dir, p))
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s after remount: %d bytes, %v; want the %d bytes written", p, len(got), err, len(want))
					}
				}
				assertContent(t, filepath.Join(m2.dir, "before"), "closed\n")
				m2.umount(t)
			})
		})
	}
}

// holdOpen starts a shell that opens path for writing, writes into it and
// keeps it open until killed.
func holdOpen(t *testing.T, path string) *child {
	t.Helper()
	c := startChild(t, tool(t, "sh"), "-c", fmt.Sprintf("exec 3>%q; printf partial >&3; exec sleep 1000", path))
	waitExec(t, c, "sleep")
	return c
}

// TestStopTimeoutSignal: a writer that outlives --stop-timeout makes a
// SIGTERM stop exit non-zero, naming the file in the log; the file is left
// out entirely, and everything closed is committed.
func TestStopTimeoutSignal(t *testing.T) {
	tool(t, "sleep")
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t, "--stop-timeout", "1s")
		writeFile(t, filepath.Join(m.dir, "closed"), []byte("closed\n"), 0o644)
		held := holdOpen(t, filepath.Join(m.dir, "held"))
		must(t, m.cmd.Process.Signal(syscall.SIGTERM))
		err := m.waitExit(t, shortTimeout)
		if code := (result{err: err}).exitCode(); code == 0 || code == -1 {
			t.Errorf("daemon exit status %d (%v) after leaving an open file out; want a non-zero exit", code, err)
		}
		log := m.log()
		if !strings.Contains(log, "/held") || !strings.Contains(log, "left out") {
			t.Errorf("the daemon's log does not name the file it left out:\n%s", log)
		}
		held.kill()
		if isMounted(t, m.dir) {
			t.Fatalf("%s still mounted after the daemon exited", m.dir)
		}
		m2 := r.startMount(t, m.dir)
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, "closed"), "closed\n")
		for _, p := range []string{"held", ".snapshots/latest/held"} {
			if _, err := os.Stat(filepath.Join(m2.dir, p)); !os.IsNotExist(err) {
				t.Errorf("%s: %v; want it left out entirely", p, err)
			}
		}
		m2.umount(t)
	})
}

// TestStopTimeoutUmount: `coffer umount` refuses new opens for writing
// while it waits; past --stop-timeout it fails naming the file and leaves
// the mount as it was; once the writer is gone it succeeds and the file is
// committed.
func TestStopTimeoutUmount(t *testing.T) {
	tool(t, "sleep")
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t, "--stop-timeout", "3s")
		held := holdOpen(t, filepath.Join(m.dir, "held"))
		umounted := make(chan result, 1)
		go func() { umounted <- r.coffer(t, longTimeout, "umount", m.dir) }()
		// While the stop waits, opening for writing is refused.
		deadline := time.Now().Add(3 * time.Second)
		var werr error
		for time.Now().Before(deadline) {
			werr = os.WriteFile(filepath.Join(m.dir, "during"), []byte("x"), 0o644)
			if werr != nil {
				break
			}
			_ = os.Remove(filepath.Join(m.dir, "during"))
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(werr, syscall.EROFS) {
			t.Errorf("creating a file while a stop waits: %v; want EROFS", werr)
		}
		res := <-umounted
		if res.err == nil || !strings.Contains(res.stderr, "/held") {
			t.Fatalf("coffer umount with a file open past the timeout: %v; want a failure naming /held", res)
		}
		if m.hasExited() {
			t.Fatalf("the daemon exited (%v) although the umount was refused", m.exitErr)
		}
		writeFile(t, filepath.Join(m.dir, "after"), []byte("after\n"), 0o644)
		held.kill()
		m.umount(t)
		m2 := r.startMount(t, m.dir)
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, "held"), "partial")
		assertContent(t, filepath.Join(m2.dir, "after"), "after\n")
		m2.umount(t)
	})
}
