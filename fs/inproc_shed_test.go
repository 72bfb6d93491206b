package fs_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	cofferfs "coffer/fs"
)

// entryInfo is what a walk of a tree records of each entry.
type entryInfo struct {
	ino  uint64
	mode os.FileMode
	data string // a file's bytes, a symlink's target
}

// walkTree records every entry under root, keyed by its path below root.
func walkTree(t *testing.T, root string) map[string]entryInfo {
	t.Helper()
	out := map[string]entryInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == cofferfs.SnapshotsName {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entryInfo{ino: fi.Sys().(*syscall.Stat_t).Ino, mode: fi.Mode()}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.data = string(b)
		case fi.Mode()&os.ModeSymlink != 0:
			e.data, _ = os.Readlink(p)
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fillDirs makes dirs directories of files each (and a symlink in each)
// under root, and returns how many entries it made.
func fillDirs(t *testing.T, root string, dirs, files int) {
	t.Helper()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d), "sub")
		must(t, os.MkdirAll(dir, 0o755))
		for f := range files {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("f%03d", f)), fmt.Appendf(nil, "file %d of dir %d\n", f, d), 0o644)
		}
		must(t, os.Symlink("sub/f000", filepath.Join(root, fmt.Sprintf("d%02d", d), "ln")))
	}
}

// sameTrees fails unless got and want hold the same entries with the same
// modes and contents, and (if inos) the same inode numbers.
func sameTrees(t *testing.T, what string, got, want map[string]entryInfo, inos bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: %s is missing", what, p)
		case g.mode != w.mode || g.data != w.data:
			t.Errorf("%s: %s is %v %q, want %v %q", what, p, g.mode, g.data, w.mode, w.data)
		case inos && g.ino != w.ino:
			t.Errorf("%s: %s has inode %d, want %d (the same as before it was shed)", what, p, g.ino, w.ino)
		}
	}
}

// trimDown trims h until at most want files stay loaded, for up to five
// seconds, and returns how many stay: a file whose release the kernel
// has not sent yet is still open, and keeps its directory loaded.
func trimDown(h *cofferfs.Head, want int64) int64 {
	n := h.Trim(context.Background())
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = h.Trim(context.Background()) {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

// collect gives the kernel a moment to send the forgets it owes, and
// collects every node nothing holds any more.
func collect() {
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.GC()
}

// A head over its bound of loaded files sheds clean directories, and what
// it serves afterwards is what it served before: the same entries, bytes
// and inode numbers (find, tar and rsync -H compare them).
func TestShedKeepsInodesAndContents(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, cofferfs.HeadOptions{MaxLoaded: 40})
	fillDirs(t, m.dir, 8, 20) // trims while it creates: 176 files against a bound of 40
	m.commit()
	before := walkTree(t, m.dir)
	if n := trimDown(m.h, 30); n > 30 {
		t.Fatalf("after a trim %d files stay loaded, want at most 30", n)
	}
	collect() // what the head dropped comes back as new nodes
	sameTrees(t, "after a trim", walkTree(t, m.dir), before, true)
	// Walking loaded everything again, and the head trimmed by itself:
	// its trims run beside the requests, so the last may end after the
	// walk does (on a loaded machine, CI saw it).
	n := m.h.Loaded()
	for deadline := time.Now().Add(5 * time.Second); n >= 8*21 && time.Now().Before(deadline); n = m.h.Loaded() {
		time.Sleep(20 * time.Millisecond)
	}
	if n >= 8*21 {
		t.Errorf("walking the tree left all %d files loaded for 5 s: no trim ran", n)
	}
	if n := trimDown(m.h, 30); n > 30 {
		t.Errorf("after a trim %d files stay loaded, want at most 30", n)
	}
	m.unmount()
	next := s.mountHead(t, cofferfs.HeadOptions{})
	sameTrees(t, "in a new head", walkTree(t, next.dir), before, false)
}

// Creating more files than the bound without a commit stores the trees of
// finished directories and sheds them; the next commit holds every file.
func TestShedWhileCreating(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, cofferfs.HeadOptions{MaxLoaded: 50})
	fillDirs(t, m.dir, 10, 40)
	if n := trimDown(m.h, 50); n > 50 {
		t.Errorf("%d files loaded after creating 410 with a bound of 50", n)
	}
	want := walkTree(t, m.dir)
	if len(want) != 1+10*(3+40) {
		t.Fatalf("%d entries, want %d", len(want), 1+10*43)
	}
	snap, _ := m.commit()
	m.unmount()
	sameTrees(t, "the snapshot", walkTree(t, s.mountSnapshot(t, snap).dir), want, false)
}

// A change to a file whose directory was shed, or to a directory dropped
// whole, is kept: through a file or directory the kernel still holds open,
// by path after the kernel forgot it, and to the directory's entries
// (create, rename, unlink, link). A bound of one file sheds everything
// clean at every trim.
func TestShedThenChange(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, cofferfs.HeadOptions{MaxLoaded: 1})
	fillDirs(t, m.dir, 4, 30)
	m.commit()
	held, err := os.Open(m.path("d00/sub/f000"))
	must(t, err)
	heldDir, err := os.Open(m.path("d01/sub"))
	must(t, err)
	trimDown(m.h, 0)
	must(t, heldDir.Chmod(0o750)) // a directory dropped whole, through the node the kernel holds
	must(t, heldDir.Close())

	must(t, held.Chmod(0o600)) // through the node the kernel holds
	must(t, held.Close())
	collect()                                        // the node the kernel held is gone: the change must not be
	must(t, os.Chmod(m.path("d01/sub/f001"), 0o640)) // looked up again
	must(t, os.Chmod(m.path("d02/sub"), 0o700))      // a directory dropped whole, and back
	must(t, os.Mkdir(m.path("d03/sub/new-dir"), 0o755))
	must(t, os.Rename(m.path("d02/sub/f002"), m.path("d02/moved"))) // out of a shed directory
	must(t, os.Remove(m.path("d03/sub/f003")))
	writeFile(t, m.path("d03/sub/new"), []byte("new"), 0o644)
	must(t, os.Link(m.path("d01/sub/f004"), m.path("d00/hard")))
	want := walkTree(t, m.dir)
	collect()
	m.h.Trim(context.Background()) // the changed directories are stored, then shed (those with hard links stay)
	sameTrees(t, "after a second trim", walkTree(t, m.dir), want, true)
	snap, _ := m.commit()
	m.unmount()
	got := walkTree(t, s.mountSnapshot(t, snap).dir)
	sameTrees(t, "the snapshot", got, want, false)
	for p, mode := range map[string]os.FileMode{"d00/sub/f000": 0o600, "d01/sub/f001": 0o640, "d02/sub": 0o700, "d01/sub": 0o750} {
		if got[p].mode.Perm() != mode {
			t.Errorf("%s has mode %v in the snapshot, want %v", p, got[p].mode, mode)
		}
	}
}

// A hard-linked file changed after the name it was loaded under is gone
// changes in the directory of its other name: the head does not track
// which directory that is, so the commit looks at them all.
func TestHardLinkChangedAfterFirstNameGone(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, cofferfs.HeadOptions{})
	must(t, os.MkdirAll(m.path("a"), 0o755))
	must(t, os.MkdirAll(m.path("b"), 0o755))
	writeFile(t, m.path("a/f"), []byte("linked"), 0o644)
	must(t, os.Link(m.path("a/f"), m.path("b/g")))
	m.commit()
	must(t, os.Remove(m.path("a/f")))
	m.commit()
	must(t, os.Chmod(m.path("b/g"), 0o600))
	snap, _ := m.commit()
	got := walkTree(t, s.mountSnapshot(t, snap).dir)
	if g := got["b/g"]; g.mode.Perm() != 0o600 || g.data != "linked" {
		t.Errorf("b/g in the snapshot is %v %q, want -rw------- \"linked\"", g.mode, g.data)
	}
}

// A file created through a directory the kernel still holds after a trim
// dropped that directory whole is in the next snapshot, even when the
// kernel lets go of the directory before anything loads its parent again
// (the change then has no other way into the commit than attach).
func TestShedThenCreateInDroppedDir(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, cofferfs.HeadOptions{MaxLoaded: 1})
	fillDirs(t, m.dir, 4, 30)
	m.commit()
	heldDir, err := os.Open(m.path("d01/sub"))
	must(t, err)
	if n := trimDown(m.h, 0); n > 0 { // drops d01/sub whole; the kernel still holds it
		t.Fatalf("%d files stay loaded after a trim with a bound of 1", n)
	}
	fd, err := syscall.Openat(int(heldDir.Fd()), "through-held", syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644)
	for deadline := time.Now().Add(10 * time.Second); err == syscall.EINTR && time.Now().Before(deadline); {
		// The runtime's preemption signal interrupts a slow create; os
		// retries, as here.
		fd, err = syscall.Openat(int(heldDir.Fd()), "through-held", syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644)
	}
	must(t, err)
	_, err = syscall.Write(fd, []byte("kept"))
	must(t, err)
	must(t, syscall.Close(fd))
	must(t, heldDir.Close())
	collect() // the kernel forgets the directory: only the head has the change
	snap, _ := m.commit()
	m.unmount()
	got := walkTree(t, s.mountSnapshot(t, snap).dir)
	if e, ok := got["d01/sub/through-held"]; !ok || e.data != "kept" {
		t.Errorf("d01/sub/through-held in the snapshot: %q (present %v), want \"kept\"", e.data, ok)
	}
	if len(got) != 1+4*(3+30)+1 {
		t.Errorf("the snapshot holds %d entries, want %d", len(got), 1+4*(3+30)+1)
	}
}
