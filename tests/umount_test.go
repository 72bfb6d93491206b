package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// waitExec waits until a child started through `sh -c '… exec PROG'` runs
// PROG, that is, until the shell has set up its redirections.
func waitExec(t *testing.T, c *child, prog string) {
	t.Helper()
	deadline := time.Now().Add(shortTimeout)
	for time.Now().Before(deadline) {
		if !c.running() {
			t.Fatalf("helper %v exited early", c.cmd.Args)
		}
		if exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(c.cmd.Process.Pid), "exe")); err == nil &&
			filepath.Base(exe) == prog {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("helper %v did not reach %s", c.cmd.Args, prog)
}

var busyRE = regexp.MustCompile(`(?i)busy|in use|open`)

// TestUmountOpenFiles unmounts while other processes hold files open for
// reading (in the head and in a snapshot), hold one open for writing
// mid-write, and sit in a directory of the mount. `coffer umount` must
// either succeed or refuse clearly, saying the mount is busy; after the
// holders are gone it must succeed, and a remount must show everything.
func TestUmountOpenFiles(t *testing.T) {
	shBin := tool(t, "sh")
	tool(t, "sleep")
	tool(t, "rsync")
	forEachBackend(t, func(t *testing.T, be *backend) {
		src := filepath.Join(t.TempDir(), "src")
		buildRsyncTree(t, src, newRand(t.Name()), false)

		r := newRepo(t, be)
		// The writer below never closes: a stop waits this long for it.
		m := r.mount(t, "--stop-timeout", "2s")
		rsyncInto(t, src, filepath.Join(m.dir, "data"))
		m.snapshot(t)
		latest := filepath.Join(m.dir, ".snapshots", "latest", "data")

		holders := []*child{
			startChild(t, shBin, "-c", "exec sleep 1000 < "+filepath.Join(latest, "files/mib1")),
			startChild(t, shBin, "-c", "exec sleep 1000 < "+filepath.Join(m.dir, "data/files/b4096")),
			startChild(t, shBin, "-c", "exec 1>"+filepath.Join(m.dir, "w")+"; printf partial; exec sleep 1000"),
			startChild(t, shBin, "-c", "cd "+filepath.Join(m.dir, "data/hard")+" && exec sleep 1000"),
		}
		for _, h := range holders {
			waitExec(t, h, "sleep")
		}

		res := r.coffer(t, longTimeout, "umount", m.dir)
		busy := res.err != nil
		if busy {
			t.Logf("coffer umount with open files refused: %v", res)
			if !busyRE.MatchString(res.stdout + res.stderr) {
				t.Errorf("coffer umount failed without saying the mount is busy: %v", res)
			}
			if m.hasExited() {
				t.Fatalf("daemon exited (%v) although coffer umount reported failure", m.exitErr)
			}
			if _, err := os.ReadDir(m.dir); err != nil {
				t.Errorf("mount unusable after a refused umount: %v", err)
			}
			for _, h := range holders {
				h.kill()
			}
			m.umount(t)
		} else {
			t.Logf("coffer umount with open files succeeded: %s%s", res.stdout, res.stderr)
			if err := m.waitExit(t, 2*time.Minute); err != nil {
				t.Errorf("daemon exited with %v after coffer umount", err)
			}
			if isMounted(t, m.dir) {
				t.Errorf("%s still mounted after a successful coffer umount", m.dir)
			}
			for _, h := range holders {
				h.kill()
			}
		}

		m2 := r.startMount(t, m.dir)
		m2.waitReady(t)
		mustRun(t, shortTimeout, nil, tool(t, "ls"), "-la", m2.dir, filepath.Join(m2.dir, "data"),
			filepath.Join(m2.dir, ".snapshots", "latest"))
		assertRsyncClean(t, "head after remount", src, filepath.Join(m2.dir, "data"))
		assertRsyncClean(t, "snapshot after remount", src, filepath.Join(m2.dir, ".snapshots", "latest", "data"))
		compareTrees(t, "head after remount", scanTree(t, src), scanTree(t, filepath.Join(m2.dir, "data")), cmpOpts{})
		w, err := os.ReadFile(filepath.Join(m2.dir, "w"))
		switch {
		case busy && err != nil:
			// The holders were gone before the clean umount, so w was
			// closed before it and must be in the snapshot it commits.
			t.Errorf("w, closed after the last snapshot but before a clean umount, is gone after remount: %v", err)
		case err == nil && string(w) != "partial":
			t.Errorf("w = %q, want %q", w, "partial")
		case err != nil:
			t.Logf("the file open for writing during umount is not in the head (%v)", err)
		default:
			t.Logf("the file open for writing during umount was kept: %q", w)
		}
		m2.umount(t)
	})
}
