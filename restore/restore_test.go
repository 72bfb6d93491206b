package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"coffer/cipher"
	"coffer/repo"
	"coffer/restore"
)

var cipher0 cipher.ID

// sampleTree stores a tree with every kind of entry and returns its root
// node: files across many blocks, an empty file, a sparse file, a
// setuid file, xattrs and an ACL, hard links across directories, a
// symlink, a fifo, a device, and two directories with the same
// contents (one tree, two paths).
func sampleTree(t *testing.T, tr *testRepo) repo.Node {
	t.Helper()
	big := tr.file(t, "big", randData(700_000))
	big.Xattrs = []repo.Xattr{{Name: "user.a", Value: []byte("one\x00two")}}
	empty := tr.file(t, "empty", nil)
	sparseData := make([]byte, 1<<20)
	copy(sparseData[300_000:], "island")
	sparse := tr.file(t, "sparse", sparseData)
	suid := tr.file(t, "suid", []byte("#!/bin/sh\n"))
	suid.Mode = 0o4755
	acl := tr.file(t, "acl", []byte("acl"))
	acl.Mode = 0o640
	// user::rw- user:4321:r-- group::r-- mask::r-- other::---
	acl.Xattrs = []repo.Xattr{{Name: "system.posix_acl_access", Value: []byte{
		2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 4, 0, 0xe1, 0x10, 0, 0,
		4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}}}
	linked := tr.file(t, "linked", randData(5000))
	linked.Link = 7
	other := linked
	other.Name = "linked-too"
	link := repo.Node{Name: "link", Type: repo.TypeSymlink, Target: "../big", UID: 1234, GID: 5678, Mtime: stamp(5), Atime: stamp(5)}
	fifo := repo.Node{Name: "fifo", Type: repo.TypeFIFO, Mode: 0o620, UID: 1, GID: 2, Mtime: stamp(6), Atime: stamp(6)}
	dev := repo.Node{Name: "null", Type: repo.TypeChar, Mode: 0o666, Rdev: unix.Mkdev(1, 3), Mtime: stamp(7), Atime: stamp(7)}
	twin := func(name string) repo.Node {
		return tr.dir(t, name, tr.file(t, "same", []byte("identical contents")))
	}
	sub := tr.dir(t, "sub", link, other, twin("twin"))
	sub.Mode = 0o750
	root := tr.dir(t, "/", acl, big, dev, empty, fifo, linked, sparse, sub, suid, twin("twin"))
	root.Xattrs = []repo.Xattr{{Name: "user.root", Value: []byte("top")}}
	if err := tr.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return root
}

// sampleSnapshot commits sampleTree as a snapshot and returns the
// repository opened again (as a new process: nothing cached), the
// snapshot, its root node as stored and as Locate finds it.
func sampleSnapshot(t *testing.T) (r *repo.Repository, s *repo.Snapshot, root, top repo.Node) {
	t.Helper()
	tr := newTestRepo(t)
	root = sampleTree(t, tr)
	s = tr.snapshot(t, root)
	r = tr.open(t)
	top, err := r.LookupPath(context.Background(), s, "/")
	must(t, err)
	return r, s, root, top
}

// restoreAll restores node into target and returns the summary and the
// problems reported.
func restoreAll(t *testing.T, r *repo.Repository, node repo.Node, target string, o restore.Options) (restore.Summary, []string, error) {
	t.Helper()
	var mu sync.Mutex
	var problems []string
	o.OnError = func(p string, err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, p+": "+err.Error())
	}
	sum, err := restore.New(r, o).Restore(context.Background(), node, target)
	return sum, problems, err
}

func TestRestoreRoundTrip(t *testing.T) {
	r, _, root, node := sampleSnapshot(t)
	target := filepath.Join(t.TempDir(), "out")
	sum, problems, err := restoreAll(t, r, node, target, restore.Options{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("restore: %v %v", err, problems)
	}
	checkNode(t, r, root, target)
	checkTree(t, r, root.Subtree, target)
	var a, b unix.Stat_t
	must(t, unix.Stat(filepath.Join(target, "linked"), &a))
	must(t, unix.Stat(filepath.Join(target, "sub", "linked-too"), &b))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: inodes %d and %d, %d links; want one inode, two links", a.Ino, b.Ino, a.Nlink)
	}
	var sp unix.Stat_t
	must(t, unix.Stat(filepath.Join(target, "sparse"), &sp))
	if sp.Blocks*512 > 64<<10 {
		t.Errorf("sparse file of 1 MiB with 6 bytes of data takes %d bytes on disk", sp.Blocks*512)
	}
	if sum.Files != 9 || sum.Errors != 0 || sum.Bytes == 0 {
		t.Errorf("summary %+v, want 9 files", sum)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreDamagedBlock: a file whose blocks fail authentication is
// reported by its path and block, the other files are restored, and the
// restore ends with ErrIncomplete.
func TestRestoreDamagedBlock(t *testing.T) {
	tr := newTestRepo(t)
	good := tr.file(t, "good", randData(100_000))
	must(t, tr.r.Flush(context.Background()))
	before := tr.packs(t)
	bad := tr.file(t, "bad", randData(400_000))
	must(t, tr.r.Flush(context.Background()))
	tr.damagePacks(t, before) // only the packs that hold bad's blocks
	root := tr.dir(t, "/", bad, good)
	s := tr.snapshot(t, root)
	r := tr.open(t)
	node, err := r.LookupPath(context.Background(), s, "/")
	must(t, err)
	target := t.TempDir()
	sum, problems, err := restoreAll(t, r, node, target, restore.Options{})
	if !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("restore with a damaged block: %v, want ErrIncomplete", err)
	}
	if len(problems) == 0 || !strings.HasPrefix(problems[0], "/bad: block ") {
		t.Errorf("problems %q, want ones naming /bad and its block", problems)
	}
	checkNode(t, r, good, filepath.Join(target, "good"))
	if sum.Files != 1 || sum.Errors == 0 {
		t.Errorf("summary %+v, want 1 file restored and errors counted", sum)
	}
	if fi, err := os.Stat(filepath.Join(target, "bad")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("damaged file: %v, %v; want it left owner-only", fi, err)
	}
}

// TestRestoreDamagedTree: a directory whose listing fails authentication
// is made empty and reported; the rest is restored; ErrIncomplete.
func TestRestoreDamagedTree(t *testing.T) {
	tr := newTestRepo(t)
	good := tr.file(t, "good", randData(50_000))
	inner := tr.file(t, "inner", randData(10_000))
	must(t, tr.r.Flush(context.Background()))
	before := tr.packs(t)
	sub := tr.dir(t, "sub", inner)
	must(t, tr.r.Flush(context.Background()))
	tr.damagePacks(t, before) // only the pack holding sub's tree
	s := tr.snapshot(t, tr.dir(t, "/", good, sub))
	r := tr.open(t)
	node, err := r.LookupPath(context.Background(), s, "/")
	must(t, err)
	target := t.TempDir()
	_, problems, err := restoreAll(t, r, node, target, restore.Options{})
	if !errors.Is(err, restore.ErrIncomplete) || len(problems) != 1 || !strings.HasPrefix(problems[0], "/sub: ") {
		t.Fatalf("restore with a damaged tree: %v, problems %q; want ErrIncomplete naming /sub", err, problems)
	}
	checkNode(t, r, good, filepath.Join(target, "good"))
	if ents, err := os.ReadDir(filepath.Join(target, "sub")); err != nil || len(ents) != 0 {
		t.Errorf("damaged directory: %v, %v; want it made, empty", ents, err)
	}
}
