package fs_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/fs"
	"coffer/repo"
)

// TestInprocRename covers rename's cases, each committed and compared
// with the snapshot.
func TestInprocRename(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	must(t, os.MkdirAll(m.path("a/deep"), 0o755))
	must(t, os.Mkdir(m.path("b"), 0o755))
	must(t, os.Mkdir(m.path("full"), 0o755))
	writeFile(t, m.path("full/x"), []byte("x"), 0o644)
	writeFile(t, m.path("a/one"), []byte("one"), 0o644)
	writeFile(t, m.path("a/two"), []byte("two"), 0o600)
	writeFile(t, m.path("a/deep/three"), []byte("three"), 0o644)
	writeFile(t, m.path("old"), []byte("old bytes"), 0o644)
	writeFile(t, m.path("new"), []byte("new bytes"), 0o644)
	_, first := m.commit()

	must(t, os.Rename(m.path("a/one"), m.path("a/uno")))   // within a directory
	must(t, os.Rename(m.path("a/two"), m.path("b/two")))   // across
	must(t, os.Rename(m.path("a/deep"), m.path("b/deep"))) // a directory with contents
	must(t, os.Rename(m.path("new"), m.path("old")))       // over a file
	must(t, os.Rename(m.path("b/two"), m.path("b/two")))   // onto itself
	must(t, unix.Renameat2(unix.AT_FDCWD, m.path("a/uno"), unix.AT_FDCWD, m.path("b/two"), unix.RENAME_EXCHANGE))
	wantErrno(t, "RENAME_NOREPLACE", unix.Renameat2(unix.AT_FDCWD, m.path("a/uno"), unix.AT_FDCWD, m.path("old"), unix.RENAME_NOREPLACE), syscall.EEXIST)
	wantErrno(t, "directory over a non-empty one", syscall.Rename(m.path("b/deep"), m.path("full")), syscall.ENOTEMPTY)
	wantErrno(t, "file over a directory", syscall.Rename(m.path("old"), m.path("full")), syscall.EISDIR)
	wantErrno(t, "directory over a file", syscall.Rename(m.path("full"), m.path("old")), syscall.ENOTDIR)
	wantErrno(t, "missing source", syscall.Rename(m.path("nothing"), m.path("b/nothing")), syscall.ENOENT)
	wantErrno(t, "onto .snapshots", syscall.Rename(m.path("full"), m.path(fs.SnapshotsName)), syscall.EPERM)
	wantErrno(t, ".snapshots away", syscall.Rename(m.path(fs.SnapshotsName), m.path("elsewhere")), syscall.EPERM)
	wantErrno(t, "into .snapshots", syscall.Rename(m.path("old"), m.snapPath(first, "old")), syscall.EROFS)
	// After the exchange: a/uno holds "two", b/two holds "one".
	want := map[string]string{"a/uno": "two", "b/two": "one", "b/deep/three": "three", "old": "new bytes", "full/x": "x"}
	for p, w := range want {
		if got := string(readFile(t, m.path(p))); got != w {
			t.Errorf("head %s: %q, want %q", p, got, w)
		}
	}
	for _, gone := range []string{"a/one", "a/two", "a/deep", "new"} {
		if _, err := os.Lstat(m.path(gone)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", gone, err)
		}
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(m.path("a/uno"), &st))
	if st.Mode&0o777 != 0o600 {
		t.Errorf("a/uno mode %o: the exchange moves files with their attributes", st.Mode&0o777)
	}
	head := scan(t, m.dir)
	_, second := m.commit()
	sameTree(t, "after renames", scan(t, m.snapPath(second)), head)
	if got := string(readFile(t, m.snapPath(first, "old"))); got != "old bytes" {
		t.Errorf("replaced file in the earlier snapshot: %q", got)
	}
	m.unmount()
	next := s.mountHead(t, fs.HeadOptions{})
	sameTree(t, "next daemon", scan(t, next.dir), head)
}

// TestInprocRenameDuringCommits renames files back and forth between
// directories while commits run. go-fuse moves an entry only after the
// rename handler returns, so a commit can read both directories in
// between: every snapshot must still hold each file exactly once, and a
// last commit after the renames stop must match the head.
func TestInprocRenameDuringCommits(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	const files, movers = 24, 8
	dirs := []string{"left", "right", "left/sub"}
	for _, d := range dirs {
		if err := os.Mkdir(m.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range files {
		writeFile(t, m.path("left", fmt.Sprint("f", i)), []byte(fmt.Sprint("file ", i)), 0o644)
	}
	// Bystanders make each commit's walk of the busy directories longer,
	// and so the window wider.
	for _, d := range dirs {
		for i := range 150 {
			if err := syscall.Mknod(m.path(d, fmt.Sprint("by", i)), syscall.S_IFIFO|0o644, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stop atomic.Bool
	var renames atomic.Int64
	var wg sync.WaitGroup
	for g := range movers {
		wg.Go(func() {
			where := make([]int, files) // index into dirs, per file this mover owns
			for !stop.Load() {
				for i := g; i < files; i += movers {
					to := (where[i] + 1) % len(dirs)
					name := fmt.Sprint("f", i)
					if err := os.Rename(m.path(dirs[where[i]], name), m.path(dirs[to], name)); err != nil {
						t.Errorf("rename: %v", err)
						return
					}
					where[i] = to
					renames.Add(1)
				}
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	var snaps int
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) || snaps < 5 {
		snap, err := m.h.Commit(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		snaps++
		// The walk counts the regular files it stores (bystanders are
		// FIFOs): a file seen in both directories, or in neither, shows.
		if snap.Files != files {
			t.Errorf("snapshot %d holds %d files, want %d", snaps, snap.Files, files)
			checkOnce(t, m, snap, files)
		}
		if t.Failed() {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	head := scan(t, m.dir)
	snap, name := m.commit()
	checkOnce(t, m, snap, files)
	sameTree(t, "after the renames stopped", scan(t, m.snapPath(name)), head)
	t.Logf("%d renames during %d commits", renames.Load(), snaps)
}

// checkOnce reports which files a snapshot holds other than once.
func checkOnce(t *testing.T, m *mount, snap *repo.Snapshot, files int) {
	t.Helper()
	seen := map[string][]string{}
	for p := range entriesOf(t, m.r, snap) {
		if b := path.Base(p); b[0] == 'f' {
			seen[b] = append(seen[b], p)
		}
	}
	for i := range files {
		if names := seen[fmt.Sprint("f", i)]; len(names) != 1 {
			t.Errorf("f%d is stored as %q", i, names)
		}
	}
}
