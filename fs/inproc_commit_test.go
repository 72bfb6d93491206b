package fs_test

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/fs"
)

// makeEveryKind fills dir with one of everything a snapshot keeps and
// returns the file contents written.
func makeEveryKind(t *testing.T, m *mount) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"empty":      {},
		"small":      []byte("hello, coffer\n"),
		"big":        randBytes(700 << 10), // several chunks
		"d/e/f":      []byte("deep"),
		"suid":       []byte("#!/bin/sh\n"),
		"d/zeros.gz": make([]byte, 300<<10),
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("mkdir", os.MkdirAll(m.path("d/e"), 0o755))
	for name, data := range files {
		writeFile(t, m.path(name), data, 0o644)
	}
	must("chmod small", os.Chmod(m.path("small"), 0o640))
	must("chmod suid", syscall.Chmod(m.path("suid"), 0o4755))
	must("chmod d/e", os.Chmod(m.path("d/e"), 0o700))
	must("chown small", os.Lchown(m.path("small"), 1234, 5678))
	must("symlink", os.Symlink("d/e/f", m.path("ln")))
	must("lchown ln", os.Lchown(m.path("ln"), 42, 43))
	must("mkfifo", syscall.Mkfifo(m.path("fifo"), 0o600))
	must("mknod", syscall.Mknod(m.path("null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must("chmod null", syscall.Chmod(m.path("null"), 0o666)) // mknod applied the umask
	must("link", os.Link(m.path("small"), m.path("d/hard")))
	must("setxattr small", unix.Setxattr(m.path("small"), "user.color", []byte("blue"), 0))
	must("setxattr d", unix.Setxattr(m.path("d"), "user.empty", nil, 0))
	must("setxattr big", unix.Setxattr(m.path("big"), "user.bin", []byte{0, 1, 2, 255}, 0))
	must("setxattr ln", unix.Lsetxattr(m.path("ln"), "trusted.t", []byte("on a symlink"), 0))
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	must("chtimes big", os.Chtimes(m.path("big"), mtime, mtime))
	must("chtimes d", os.Chtimes(m.path("d"), mtime, mtime.Add(time.Second)))
	must("lutimes ln", unix.UtimesNanoAt(unix.AT_FDCWD, m.path("ln"),
		[]unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano() + 5)}, unix.AT_SYMLINK_NOFOLLOW))
	return files
}

// checkEveryKind asserts what makeEveryKind wrote, in the tree at root.
func checkEveryKind(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, want := range files {
		if got := readFile(t, root+"/"+name); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes read differ from the %d written", name, len(got), len(want))
		}
	}
	got := scan(t, root)
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC).UnixNano()
	checks := []struct {
		name string
		ok   bool
	}{
		{"small mode", got["small"].mode == syscall.S_IFREG|0o640},
		{"small owner", got["small"].uid == 1234 && got["small"].gid == 5678},
		{"small nlink", got["small"].nlink == 2 && got["d/hard"].nlink == 2},
		{"hard link is one file", got["d/hard"].sameFileAs == "d/hard" && got["small"].sameFileAs == "d/hard"},
		{"suid mode", got["suid"].mode == syscall.S_IFREG|0o4755},
		{"d/e mode", got["d/e"].mode == syscall.S_IFDIR|0o700},
		{"ln", got["ln"].mode&syscall.S_IFMT == syscall.S_IFLNK && got["ln"].target == "d/e/f" && got["ln"].size == 5},
		{"ln owner", got["ln"].uid == 42 && got["ln"].gid == 43},
		{"ln mtime", got["ln"].mtime == mtime+5},
		{"fifo", got["fifo"].mode == syscall.S_IFIFO|0o600},
		{"null", got["null"].mode == syscall.S_IFCHR|0o666 && got["null"].rdev == unix.Mkdev(1, 3)},
		{"small xattr", got["small"].xattrs["user.color"] == "blue" && got["d/hard"].xattrs["user.color"] == "blue"},
		{"d xattr", len(got["d"].xattrs) == 1 && got["d"].xattrs["user.empty"] == ""},
		{"big xattr", got["big"].xattrs["user.bin"] == "\x00\x01\x02\xff"},
		{"ln xattr", got["ln"].xattrs["trusted.t"] == "on a symlink"},
		{"big mtime", got["big"].mtime == mtime},
		{"d mtime", got["d"].mtime == mtime+int64(time.Second)},
		{"big size", got["big"].size == 700<<10},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong in %s", c.name, root)
		}
	}
	if t.Failed() {
		for _, k := range sortedKeys(got) {
			t.Logf("%s: %v", k, got[k])
		}
	}
}

// TestInprocCommitKeepsEverything commits one of every kind of entry and
// finds each byte and attribute again in .snapshots, in a snapshot
// mounted alone, and in the head of the next daemon.
func TestInprocCommitKeepsEverything(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	files := makeEveryKind(t, m)
	checkEveryKind(t, m.dir, files)
	before := scan(t, m.dir)
	if !m.h.Changed() {
		t.Error("Changed is false after writing")
	}
	snap, name := m.commit()
	if m.h.Changed() {
		t.Error("Changed is true right after a commit")
	}
	// Totals count names: d/hard is small a second time.
	wantSize := uint64(totalSize(files) + len(files["small"]))
	if snap.Host != testHost || snap.Files != 7 || snap.Size != wantSize {
		t.Errorf("snapshot: host %q, %d files, %d bytes; want %s, 7, %d", snap.Host, snap.Files, snap.Size, testHost, wantSize)
	}
	sameTree(t, "snapshot in .snapshots", scan(t, m.snapPath(name)), before)
	checkEveryKind(t, m.snapPath(name), files)
	sameTree(t, "head after commit", scan(t, m.dir), before)
	m.unmount()

	alone := s.mountSnapshot(t, snap)
	sameTree(t, "snapshot mounted alone", scan(t, alone.dir), before)
	alone.unmount()

	next := s.mountHead(t, fs.HeadOptions{})
	if next.h.Changed() {
		t.Error("a new head on the latest snapshot says it changed")
	}
	sameTree(t, "next daemon's head", scan(t, next.dir), before)
	checkEveryKind(t, next.dir, files)
}

func totalSize(files map[string][]byte) int {
	n := 0
	for _, b := range files {
		n += len(b)
	}
	return n
}
