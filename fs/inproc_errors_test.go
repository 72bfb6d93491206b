package fs_test

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"coffer/fs"
)

// TestInprocXattrs checks extended attributes as getxattr(2) and
// setxattr(2) define them, and that a removal reaches the snapshot.
func TestInprocXattrs(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	f := m.path("f")
	writeFile(t, f, []byte("x"), 0o644)
	if err := unix.Setxattr(f, "user.a", []byte("12345"), unix.XATTR_CREATE); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "XATTR_CREATE on an existing name", unix.Setxattr(f, "user.a", []byte("z"), unix.XATTR_CREATE), syscall.EEXIST)
	wantErrno(t, "XATTR_REPLACE on a missing name", unix.Setxattr(f, "user.b", []byte("z"), unix.XATTR_REPLACE), syscall.ENODATA)
	if err := unix.Setxattr(f, "user.a", []byte("123456"), unix.XATTR_REPLACE); err != nil {
		t.Errorf("XATTR_REPLACE: %v", err)
	}
	if err := unix.Setxattr(f, "user.b", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Getxattr(f, "user.a", nil); err != nil || n != 6 {
		t.Errorf("size query: %d, %v", n, err)
	}
	_, err := unix.Getxattr(f, "user.a", make([]byte, 3))
	wantErrno(t, "getxattr into a short buffer", err, syscall.ERANGE)
	_, err = unix.Getxattr(f, "user.none", make([]byte, 10))
	wantErrno(t, "getxattr of a missing name", err, syscall.ENODATA)
	if n, err := unix.Listxattr(f, nil); err != nil || n != len("user.a\x00user.b\x00") {
		t.Errorf("listxattr size query: %d, %v", n, err)
	}
	_, err = unix.Listxattr(f, make([]byte, 4))
	wantErrno(t, "listxattr into a short buffer", err, syscall.ERANGE)
	_, first := m.commit()
	if err := unix.Removexattr(f, "user.a"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, "removexattr of a missing name", unix.Removexattr(f, "user.a"), syscall.ENODATA)
	_, second := m.commit()
	if x := readXattrs(t, m.snapPath(first, "f")); len(x) != 2 || x["user.a"] != "123456" || x["user.b"] != "b" {
		t.Errorf("first snapshot: %q", x)
	}
	if x := readXattrs(t, m.snapPath(second, "f")); len(x) != 1 || x["user.b"] != "b" {
		t.Errorf("second snapshot: %q", x)
	}
	if n, err := unix.Getxattr(m.snapPath(second, "f"), "user.b", nil); err != nil || n != 1 {
		t.Errorf("size query in a snapshot: %d, %v", n, err)
	}
	_, err = unix.Getxattr(m.snapPath(second, "f"), "user.a", make([]byte, 10))
	wantErrno(t, "removed xattr in the snapshot", err, syscall.ENODATA)
}

// TestInprocNamespaceErrors checks the errors of unlink, rmdir, link and
// mknod, and the counters the head reports.
func TestInprocNamespaceErrors(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	v0 := m.h.Version()
	must(t, os.MkdirAll(m.path("d/sub"), 0o755))
	writeFile(t, m.path("d/f"), []byte("f"), 0o644)
	if m.h.Version() == v0 {
		t.Error("Version did not change with the head")
	}
	wantErrno(t, "rmdir a non-empty directory", syscall.Rmdir(m.path("d")), syscall.ENOTEMPTY)
	wantErrno(t, "rmdir a file", syscall.Rmdir(m.path("d/f")), syscall.ENOTDIR)
	wantErrno(t, "rmdir a missing name", syscall.Rmdir(m.path("d/none")), syscall.ENOENT)
	wantErrno(t, "unlink a directory", syscall.Unlink(m.path("d/sub")), syscall.EISDIR)
	wantErrno(t, "unlink a missing name", syscall.Unlink(m.path("d/none")), syscall.ENOENT)
	wantErrno(t, "link over an existing name", syscall.Link(m.path("d/f"), m.path("d/sub")), syscall.EEXIST)
	wantErrno(t, "link a directory", syscall.Link(m.path("d/sub"), m.path("d/sub2")), syscall.EPERM)
	wantErrno(t, "link as .snapshots", syscall.Link(m.path("d/f"), m.path(fs.SnapshotsName)), syscall.EEXIST)
	wantErrno(t, "mkdir over a file", syscall.Mkdir(m.path("d/f"), 0o755), syscall.EEXIST)
	wantErrno(t, "symlink over a file", syscall.Symlink("x", m.path("d/f")), syscall.EEXIST)
	must(t, syscall.Mknod(m.path("d/sock"), syscall.S_IFSOCK|0o755, 0))
	must(t, syscall.Mknod(m.path("d/blk"), syscall.S_IFBLK|0o600, int(unix.Mkdev(8, 1))))
	wantErrno(t, "mknod over a file", syscall.Mknod(m.path("d/f"), syscall.S_IFIFO|0o644, 0), syscall.EEXIST)
	// Unlinking one of two names leaves the file, with one link.
	must(t, os.Link(m.path("d/f"), m.path("d/g")))
	must(t, os.Remove(m.path("d/f")))
	var st syscall.Stat_t
	must(t, syscall.Stat(m.path("d/g"), &st))
	if st.Nlink != 1 {
		t.Errorf("nlink after unlinking one of two names: %d", st.Nlink)
	}
	must(t, os.Remove(m.path("d/sub")))

	var fsst syscall.Statfs_t
	must(t, syscall.Statfs(m.dir, &fsst))
	if fsst.Bsize != 4096 || fsst.Namelen != 255 || fsst.Bavail == 0 {
		t.Errorf("statfs: bsize %d, namelen %d, bavail %d", fsst.Bsize, fsst.Namelen, fsst.Bavail)
	}
	v1 := m.h.Version()
	head := scan(t, m.dir)
	if m.h.Version() != v1 {
		t.Error("reading the head changed its Version")
	}
	if e := head["d/sock"]; e.mode != syscall.S_IFSOCK|0o755 {
		t.Errorf("socket: %v", e)
	}
	if e := head["d/blk"]; e.mode != syscall.S_IFBLK|0o600 || e.rdev != unix.Mkdev(8, 1) {
		t.Errorf("block device: %v", e)
	}
	_, name := m.commit()
	sameTree(t, "snapshot", scan(t, m.snapPath(name)), head)
}
