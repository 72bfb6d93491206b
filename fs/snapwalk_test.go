package fs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	cfs "coffer/fs"
)

// TestInprocSnapshotNoXattrs: once the walk of a mounted snapshot has read
// every tree and found no extended attribute, the kernel is told that
// the mount has none (getxattr fails with ENOTSUP, asked of coffer no
// more), so ls -l costs no round trip per entry for them; one attribute
// anywhere, the root's included, keeps every getxattr answered, and so
// does a snapshot under a head's .snapshots, whose connection the head
// shares.
func TestInprocSnapshotNoXattrs(t *testing.T) {
	for _, c := range []struct {
		name  string
		xattr string // path below the head that gets user.k, "" for none; "." for the root
		alone bool
	}{
		{name: "none", alone: true},
		{name: "deepest file", xattr: "a/b/c/d/f9", alone: true},
		{name: "directory", xattr: "a/b", alone: true},
		{name: "root", xattr: ".", alone: true},
		{name: "none, under .snapshots", alone: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestStore(t)
			h := s.mountHead(t, cfs.HeadOptions{})
			dir := ""
			for _, d := range []string{"a", "b", "c", "d"} {
				dir = filepath.Join(dir, d)
				must(t, os.Mkdir(h.path(dir), 0o755))
				for _, f := range []string{"f1", "f9"} {
					writeFile(t, h.path(dir, f), []byte(dir+f), 0o644)
				}
			}
			if c.xattr != "" {
				must(t, unix.Setxattr(h.path(c.xattr), "user.k", []byte("v"), 0))
			}
			snap, name := h.commit()
			root := h.snapPath(name)
			if c.alone {
				h.unmount()
				root = s.mountSnapshot(t, snap).dir
			}
			plain := filepath.Join(root, "a/b/c/f1") // never has an attribute
			if _, err := os.ReadDir(root); err != nil {
				t.Fatal(err)
			}
			// The walk runs in the background: wait for its verdict, or
			// long enough for a wrong one to show.
			wantNone := c.xattr == "" && c.alone
			var err error
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				_, err = unix.Lgetxattr(plain, "security.selinux", make([]byte, 64))
				if errors.Is(err, syscall.ENOTSUP) {
					break
				}
			}
			switch {
			case wantNone:
				wantErrno(t, "getxattr once no entry has one", err, syscall.ENOTSUP)
			default:
				wantErrno(t, "getxattr of a missing name", err, syscall.ENODATA)
			}
			if c.xattr != "" {
				v := make([]byte, 16)
				n, err := unix.Lgetxattr(filepath.Join(root, c.xattr), "user.k", v)
				if err != nil {
					t.Errorf("user.k of %s: %v", c.xattr, err)
				} else if string(v[:n]) != "v" {
					t.Errorf("user.k of %s: %q", c.xattr, v[:n])
				}
			}
			// Listing attributes and reading files work either way.
			if n, err := unix.Llistxattr(plain, make([]byte, 64)); err != nil || n != 0 {
				t.Errorf("listxattr of a file without attributes: %d, %v", n, err)
			}
			if got := readFile(t, filepath.Join(root, "a/b/c/d/f9")); string(got) != "a/b/c/df9" {
				t.Errorf("a/b/c/d/f9 reads %q", got)
			}
		})
	}
}
