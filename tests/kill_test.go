package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"
)

// staleRE is what a message about clearing a dead daemon's mount must say.
var staleRE = regexp.MustCompile(`(?i)stale|not connected|dead|no longer running`)

// buildBigTree writes 200 files of 1 MiB in 10 directories and one of
// 100 MiB.
func buildBigTree(t testing.TB, root string) {
	t.Helper()
	rng := newRand("big " + root)
	for d := 0; d < 10; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		mkdirs(t, dir, ".")
		for f := 0; f < 20; f++ {
			writeRandomFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", f)), mib, rng)
		}
	}
	writeRandomFile(t, filepath.Join(root, "huge"), 100*mib, rng)
}

// TestKill9 kills the daemon with SIGKILL in the middle of an rsync, then
// checks that the stale mount is cleared (by `coffer umount`, or by the next
// `coffer mount` itself) with a clear message, that every earlier snapshot
// is intact, and that the interrupted copy can simply be run again.
func TestKill9(t *testing.T) {
	tool(t, "rsync")
	tool(t, "ls")
	work := t.TempDir()
	small := filepath.Join(work, "small")
	buildRsyncTree(t, small, newRand("kill small"), false)
	big := filepath.Join(work, "big")
	buildBigTree(t, big)

	for _, how := range []string{"umount", "remount"} {
		t.Run(how, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, be *backend) {
				kill9(t, be, how, small, big)
			})
		})
	}
}

func kill9(t *testing.T, be *backend, how, small, big string) {
	r := newRepo(t, be)
	m := r.mount(t)
	rsyncInto(t, small, filepath.Join(m.dir, "a"))
	id1 := m.snapshot(t)
	snap1 := newSnapshotDir(t, m.dir, nil)

	// rsync the big tree and kill the daemon under it.
	ctx, cancel := context.WithTimeout(context.Background(), longTimeout)
	defer cancel()
	rs := exec.CommandContext(ctx, tool(t, "rsync"), "-aHAX", big+"/", filepath.Join(m.dir, "big")+"/")
	var rsOut bytes.Buffer
	rs.Stdout, rs.Stderr = &rsOut, &rsOut
	rs.WaitDelay = 5 * time.Second
	must(t, rs.Start())
	time.Sleep(time.Second)
	must(t, m.cmd.Process.Signal(syscall.SIGKILL))
	if err := m.waitExit(t, shortTimeout); err == nil {
		t.Errorf("daemon exited 0 after SIGKILL")
	}
	if err := rs.Wait(); err == nil {
		t.Logf("rsync finished before the daemon was killed; the kill hit an idle daemon")
	} else {
		t.Logf("rsync after the kill: %v: %s", err, clip(rsOut.String()))
	}

	stale := isMounted(t, m.dir)
	if stale {
		var st syscall.Stat_t
		err := syscall.Stat(m.dir, &st)
		if !errors.Is(err, syscall.ENOTCONN) {
			t.Logf("stat of the dead mount = %v (expected ENOTCONN)", err)
		}
	} else {
		t.Logf("the kernel mount vanished with the daemon (auto_unmount?); no stale mount to clear")
	}

	var m2 *mount
	switch how {
	case "umount":
		res := r.coffer(t, shortTimeout, "umount", m.dir)
		if res.err != nil {
			t.Fatalf("coffer umount on a dead daemon's mount: %v", res)
		}
		if stale && !staleRE.MatchString(res.stdout+res.stderr) {
			t.Errorf("coffer umount cleared a stale mount without saying so: %v", res)
		}
		t.Logf("coffer umount said: %s%s", res.stdout, res.stderr)
		if isMounted(t, m.dir) {
			t.Fatalf("%s still mounted after coffer umount", m.dir)
		}
		m2 = r.startMount(t, m.dir)
		m2.waitReady(t)
	case "remount":
		m2 = r.startMount(t, m.dir)
		m2.waitReady(t)
		if stale && !staleRE.MatchString(m2.log()) {
			t.Errorf("coffer mount cleared a stale mount without saying so; log:\n%s", m2.log())
		}
	}

	// The remounted filesystem works and the earlier snapshot is intact.
	mustRun(t, shortTimeout, nil, tool(t, "ls"), "-la", m2.dir, filepath.Join(m2.dir, ".snapshots"))
	dirs := snapshotDirs(t, m2.dir)
	if !slices.Contains(dirs, snap1) {
		t.Fatalf(".snapshots = %q after the crash, want it to hold %s", dirs, snap1)
	}
	assertRsyncClean(t, "first snapshot after the crash", small, filepath.Join(m2.dir, ".snapshots", snap1, "a"))
	assertRsyncClean(t, "head after the crash", small, filepath.Join(m2.dir, "a"))

	// Running the interrupted copy again gives a correct snapshot.
	rsyncInto(t, big, filepath.Join(m2.dir, "big"), "--delete")
	id2 := m2.snapshot(t)
	snap2 := newSnapshotDir(t, m2.dir, dirs)
	assertRsyncClean(t, "new snapshot's big tree", big, filepath.Join(m2.dir, ".snapshots", snap2, "big"))
	assertRsyncClean(t, "new snapshot's small tree", small, filepath.Join(m2.dir, ".snapshots", snap2, "a"))
	assertRsyncClean(t, "first snapshot at the end", small, filepath.Join(m2.dir, ".snapshots", snap1, "a"))
	m2.umount(t)

	var ids []string
	for _, s := range r.snapshots(t) {
		ids = append(ids, s.ID)
	}
	for _, id := range []string{id1, id2} {
		if !slices.Contains(ids, id) {
			t.Errorf("coffer snapshots = %q, lacks %s", ids, id)
		}
	}
}
