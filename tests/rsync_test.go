package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rsyncInto copies src's contents into dst with rsync -aHAX and extra flags.
func rsyncInto(t testing.TB, src, dst string, extra ...string) result {
	t.Helper()
	args := append([]string{"-aHAX"}, extra...)
	args = append(args, src+"/", dst+"/")
	return mustRun(t, longTimeout, nil, tool(t, "rsync"), args...)
}

// assertRsyncClean fails unless a checksumming dry run from src to dst
// would change nothing: every byte and every attribute rsync keeps is equal.
func assertRsyncClean(t testing.TB, label, src, dst string) {
	t.Helper()
	res := mustRun(t, longTimeout, nil, tool(t, "rsync"),
		"-aHAXn", "--delete", "--itemize-changes", "--checksum", src+"/", dst+"/")
	if out := strings.TrimSpace(res.stdout); out != "" {
		t.Errorf("%s: rsync --checksum dry run from %s to %s would change:\n%s", label, src, dst, clip(out))
	}
}

// TestRsync copies an awkward tree in with rsync -aHAX, snapshots it, checks
// the snapshot against the source with rsync and with a Go tree walk, checks
// that a second rsync sends nothing, then changes the source and checks that
// a new snapshot has the change while the old snapshot still has the old
// tree.
func TestRsync(t *testing.T) {
	tool(t, "rsync")
	forEachBackend(t, func(t *testing.T, be *backend) {
		src := filepath.Join(t.TempDir(), "src")
		buildRsyncTree(t, src, newRand(t.Name()), true)
		want := scanTree(t, src)

		r := newRepo(t, be)
		m := r.mount(t)
		data := filepath.Join(m.dir, "data")
		rsyncInto(t, src, data)
		compareTrees(t, "head after rsync", want, scanTree(t, data), cmpOpts{})

		id1 := m.snapshot(t)
		snap1 := newSnapshotDir(t, m.dir, nil)
		latest := filepath.Join(m.dir, ".snapshots", "latest", "data")
		assertRsyncClean(t, "latest snapshot", src, latest)
		compareTrees(t, "latest snapshot", want, scanTree(t, latest), cmpOpts{})

		// A second run over an unchanged tree sends nothing.
		res := rsyncInto(t, src, data, "--delete", "--stats")
		if !strings.Contains(res.stdout, "Number of regular files transferred: 0") {
			t.Errorf("second rsync transferred files:\n%s", res.stdout)
		}

		// Keep a copy of the old source, then change it.
		old := filepath.Join(t.TempDir(), "old")
		rsyncInto(t, src, old)
		changeRsyncTree(t, src)
		want2 := scanTree(t, src)
		rsyncInto(t, src, data, "--delete")
		compareTrees(t, "head after second rsync", want2, scanTree(t, data), cmpOpts{})

		id2 := m.snapshot(t, "--tag", "second")
		if id2 == id1 {
			t.Errorf("second snapshot has the first one's ID %q", id1)
		}
		snap2 := newSnapshotDir(t, m.dir, []string{snap1})
		assertRsyncClean(t, "new snapshot", src, filepath.Join(m.dir, ".snapshots", snap2, "data"))
		assertRsyncClean(t, "latest after change", src, latest)
		compareTrees(t, "new snapshot", want2, scanTree(t, filepath.Join(m.dir, ".snapshots", snap2, "data")), cmpOpts{})
		oldSnap := filepath.Join(m.dir, ".snapshots", snap1, "data")
		assertRsyncClean(t, "old snapshot", old, oldSnap)
		compareTrees(t, "old snapshot", want, scanTree(t, oldSnap), cmpOpts{})

		m.umount(t)
		list := r.snapshots(t)
		ids := map[string]snapInfo{}
		for _, s := range list {
			ids[s.ID] = s
		}
		if _, ok := ids[id1]; !ok {
			t.Errorf("coffer snapshots lacks the first snapshot %s: %+v", id1, list)
		}
		if s, ok := ids[id2]; !ok {
			t.Errorf("coffer snapshots lacks the second snapshot %s: %+v", id2, list)
		} else if strings.Join(s.Tags, ",") != "second" {
			t.Errorf("second snapshot's tags = %q, want [second]", s.Tags)
		}

		// A fresh daemon starts its head from the latest snapshot.
		m2 := r.mount(t)
		compareTrees(t, "head after remount", want2, scanTree(t, filepath.Join(m2.dir, "data")), cmpOpts{})
		m2.umount(t)
	})
}

// changeRsyncTree changes, adds and deletes a few things in a tree built by
// buildRsyncTree, the way a day's work would.
func changeRsyncTree(t testing.TB, root string) {
	t.Helper()
	rng := newRand("change " + root)
	p := func(rel string) string { return filepath.Join(root, rel) }
	// Same size, new bytes, new mtime.
	writeRandomFile(t, p("files/b4096"), 4096, rng)
	must(t, os.Chtimes(p("files/b4096"), time.Now(), time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)))
	// Grown, and a new file and directory.
	writeRandomFile(t, p("files/mib1"), 2*mib+3, rng)
	mkdirs(t, root, "new/dir")
	writeRandomFile(t, p("new/dir/file"), 12345, rng)
	must(t, os.Symlink("../../files/b4095", p("new/dir/link")))
	// Deleted: a file, one name of a hard link, an empty directory.
	must(t, os.Remove(p("files/b4095")))
	must(t, os.Remove(p("hard/c/three-c")))
	must(t, os.Remove(p("empty1")))
	// Metadata only: mode, owner, xattr, symlink target.
	must(t, syscall.Chmod(p("files/b65537"), 0o644))
	must(t, os.Chown(p("hard/a/two"), 42, 42))
	setxattr(t, p("xattrdir"), "user.foo", "changed")
	must(t, os.Remove(p("links/rel")))
	must(t, os.Symlink("../files/empty", p("links/rel")))
	// Explicit, old times on everything the changes touched. rsync compares
	// mtimes to the second, so an entry the test changed and rsync then
	// recreated within the same second would keep the mount's own
	// nanoseconds, and the tree walk would report that as a difference.
	for _, rel := range []string{"files/mib1", "new/dir/file", "new/dir/link", "links/rel",
		"new/dir", "new", "files", "hard/c", "links", "xattrdir", "."} {
		mt := time.Date(2005, 1, 2, 3, 4, 5, 6789, time.UTC).Add(time.Duration(len(rel)) * time.Minute)
		must(t, lutimes(p(rel), mt, mt))
	}
}
