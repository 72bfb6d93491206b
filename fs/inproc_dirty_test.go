package fs_test

import (
	"context"
	"os"
	"path"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/cipher"
	"coffer/fs"
	"coffer/repo"
)

// treeIDs maps each directory of a snapshot ("." for the root) to its
// tree block ID, read through the repository.
func treeIDs(t *testing.T, r *repo.Repository, s *repo.Snapshot) map[string]cipher.ID {
	t.Helper()
	out := map[string]cipher.ID{}
	var walk func(dir string, id cipher.ID)
	walk = func(dir string, id cipher.ID) {
		out[dir] = id
		tree, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatalf("tree of %s: %v", dir, err)
		}
		for i := range tree.Nodes {
			n := &tree.Nodes[i]
			if n.Type != repo.TypeDir {
				continue
			}
			walk(path.Join(dir, n.Name), n.Subtree)
		}
	}
	walk(".", s.Tree)
	return out
}

// changedDirs lists the directories whose tree differs between two
// snapshots, or that only one of them has.
func changedDirs(a, b map[string]cipher.ID) []string {
	var out []string
	for k, id := range b {
		if a[k] != id {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestInprocDirtyTracking changes one thing at a time and commits: each
// snapshot holds exactly what the head showed, earlier snapshots stay as
// they were, and only the trees of the directories whose listing changed
// are new.
func TestInprocDirtyTracking(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	for _, d := range []string{"a", "b", "c/x/y", "c/z"} {
		if err := os.MkdirAll(m.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"f1", "f2"} {
			writeFile(t, m.path(d, f), randBytes(3000), 0o644)
		}
	}
	type commit struct {
		snap *repo.Snapshot
		name string
		tree map[string]entry
		ids  map[string]cipher.ID
	}
	var history []commit
	step := func(what string, change func(), want ...string) {
		t.Helper()
		if change != nil {
			change()
		}
		before := scan(t, m.dir)
		snap, name := m.commit()
		c := commit{snap: snap, name: name, tree: before, ids: treeIDs(t, m.r, snap)}
		sameTree(t, what+": snapshot", scan(t, m.snapPath(name)), before)
		if len(history) > 0 {
			prev := history[len(history)-1]
			if got := changedDirs(prev.ids, c.ids); !slices.Equal(got, want) {
				t.Errorf("%s: new trees for %q, want %q", what, got, want)
			}
			if snap.Parent != prev.snap.ID {
				t.Errorf("%s: parent %s, want %s", what, snap.Parent, prev.snap.ID)
			}
		}
		for _, old := range history {
			sameTree(t, what+": earlier snapshot "+old.name, scan(t, m.snapPath(old.name)), old.tree)
		}
		history = append(history, c)
		time.Sleep(10 * time.Millisecond) // distinct mtimes per step
	}
	step("first commit", nil)
	step("new file deep down", func() { writeFile(t, m.path("c/x/y/new"), []byte("new"), 0o600) },
		".", "c", "c/x", "c/x/y")
	step("chmod a file", func() { must(t, os.Chmod(m.path("a/f1"), 0o600)) }, ".", "a")
	step("xattr on a directory", func() { must(t, unix.Setxattr(m.path("b"), "user.k", []byte("v"), 0)) }, ".")
	step("utimes on a directory", func() {
		mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		must(t, os.Chtimes(m.path("c/x"), mt, mt))
	}, ".", "c")
	step("nothing", nil)
	step("unlink", func() { must(t, os.Remove(m.path("c/z/f2"))) }, ".", "c", "c/z")
	step("rmdir", func() {
		must(t, os.Remove(m.path("c/x/y/f1")))
		must(t, os.Remove(m.path("c/x/y/f2")))
		must(t, os.Remove(m.path("c/x/y/new")))
		must(t, os.Remove(m.path("c/x/y")))
	}, ".", "c", "c/x", "c/x/y")
	step("replace with O_TRUNC", func() { writeFile(t, m.path("b/f1"), []byte("replaced"), 0o644) }, ".", "b")
	step("hard link across directories", func() { must(t, os.Link(m.path("a/f2"), m.path("b/h"))) }, ".", "a", "b")
	// The link's other name lives in a directory that saw no change of
	// its own: the commit must still store it with the new attributes.
	step("chmod through one of two names", func() { must(t, os.Chmod(m.path("b/h"), 0o604)) }, ".", "a", "b")
	step("xattr through one of two names", func() { must(t, unix.Setxattr(m.path("a/f2"), "user.x", []byte("1"), 0)) }, ".", "a", "b")
	step("chown a directory", func() { must(t, os.Chown(m.path("c/z"), 7, 8)) }, ".", "c")
	step("checkpoint between change and commit", func() {
		must(t, os.Mkdir(m.path("a/sub"), 0o755))
		if _, err := m.h.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		writeFile(t, m.path("a/sub/g"), []byte("g"), 0o644)
	}, ".", "a", "a/sub")
	if history[5].ids["."] != history[4].ids["."] {
		t.Error("a commit with nothing changed stored a new root tree")
	}
	if st := history[len(history)-1].tree["b/h"]; st.mode != syscall.S_IFREG|0o604 || st.xattrs["user.x"] != "1" {
		t.Errorf("b/h in the head: %v", st)
	}
}

// entriesOf returns a snapshot's stored entries by path, read through the
// repository.
func entriesOf(t *testing.T, r *repo.Repository, s *repo.Snapshot) map[string]repo.Node {
	t.Helper()
	out := map[string]repo.Node{}
	for dir, id := range treeIDs(t, r, s) {
		tree, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tree.Nodes {
			out[path.Join(dir, n.Name)] = n
		}
	}
	return out
}

// TestInprocHardLinkChangedAfterRemount changes a hard-linked file through
// one name in a head that has not loaded the directory holding its other
// name: the snapshot must store the file's new attributes under both.
func TestInprocHardLinkChangedAfterRemount(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	for _, d := range []string{"d1", "d2"} {
		if err := os.Mkdir(m.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, m.path("d1/a"), []byte("linked"), 0o644)
	if err := os.Link(m.path("d1/a"), m.path("d2/b")); err != nil {
		t.Fatal(err)
	}
	m.commit()
	m.unmount()

	m = s.mountHead(t, fs.HeadOptions{})
	if err := os.Chmod(m.path("d1/a"), 0o600); err != nil { // d2 stays unloaded
		t.Fatal(err)
	}
	writeFile(t, m.path("d1/a"), []byte("new bytes for both names"), 0o644) // O_TRUNC
	snap, _ := m.commit()
	stored := entriesOf(t, m.r, snap)
	a, b := stored["d1/a"], stored["d2/b"]
	if a.Link == 0 || a.Link != b.Link {
		t.Fatalf("link identities %d and %d", a.Link, b.Link)
	}
	if a.Mode != 0o600 || b.Mode != 0o600 {
		t.Errorf("stored modes: d1/a %o, d2/b %o; want 600 for both names of one file", a.Mode, b.Mode)
	}
	if a.Size != 24 || b.Size != a.Size || len(b.Blocks) != 1 || b.Blocks[0] != a.Blocks[0] {
		t.Errorf("stored contents: d1/a %d bytes %v, d2/b %d bytes %v", a.Size, a.Blocks, b.Size, b.Blocks)
	}
	if got := readFile(t, m.path("d2/b")); string(got) != "new bytes for both names" {
		t.Errorf("head d2/b: %q", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(m.path("d2/b"), &st); err != nil || st.Mode&0o7777 != 0o600 {
		t.Errorf("head d2/b: mode %o, err %v", st.Mode&0o7777, err)
	}
}
