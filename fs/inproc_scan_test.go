package fs_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// entry is what a process can see of one name: everything rsync -aHX and
// tar keep, read with plain syscalls.
type entry struct {
	mode       uint32 // type and permission bits
	uid, gid   uint32
	size       int64
	mtime      int64 // Unix ns
	rdev       uint64
	nlink      uint64
	target     string            // symlinks
	xattrs     map[string]string // name → value
	sum        [32]byte          // regular files: SHA-256 of the contents
	sameFileAs string            // hard links: the first name (sorted) of the file
}

func (e entry) String() string {
	s := fmt.Sprintf("mode=%o uid=%d gid=%d size=%d mtime=%d nlink=%d", e.mode, e.uid, e.gid, e.size, e.mtime, e.nlink)
	if e.rdev != 0 {
		s += fmt.Sprintf(" rdev=%#x", e.rdev)
	}
	if e.target != "" {
		s += " target=" + e.target
	}
	if len(e.xattrs) > 0 {
		s += fmt.Sprintf(" xattrs=%q", e.xattrs)
	}
	if e.mode&syscall.S_IFMT == syscall.S_IFREG {
		s += fmt.Sprintf(" sum=%x", e.sum[:4])
	}
	if e.sameFileAs != "" {
		s += " same-as=" + e.sameFileAs
	}
	return s
}

// scan reads the tree under root: relative path → entry; "." is root.
func scan(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	byIno := map[uint64]string{}
	var names []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	slices.Sort(names)
	for _, rel := range names {
		p := filepath.Join(root, rel)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatalf("lstat %s: %v", p, err)
		}
		e := entry{
			mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size,
			mtime: st.Mtim.Nano(), rdev: st.Rdev, nlink: uint64(st.Nlink),
			xattrs: readXattrs(t, p),
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			e.target, err = os.Readlink(p)
		case syscall.S_IFREG:
			var b []byte
			b, err = os.ReadFile(p)
			e.sum = sha256.Sum256(b)
			if err == nil && int64(len(b)) != st.Size {
				err = fmt.Errorf("read %d bytes, stat says %d", len(b), st.Size)
			}
		}
		if err != nil {
			t.Fatalf("scan %s: %v", p, err)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR && st.Nlink > 1 {
			if first, ok := byIno[st.Ino]; ok {
				e.sameFileAs = first
			} else {
				byIno[st.Ino] = rel
				e.sameFileAs = rel
			}
		}
		out[rel] = e
	}
	return out
}

// readXattrs lists a name's extended attributes without following a
// symlink.
func readXattrs(t *testing.T, p string) map[string]string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	var out map[string]string
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		k, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, name, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(v[:k])
	}
	return out
}

// sameTree reports every difference between two scans.
func sameTree(t *testing.T, what string, got, want map[string]entry) {
	t.Helper()
	bad := 0
	for _, k := range sortedKeys(want) {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: %s missing; want %v", what, k, want[k])
		case fmt.Sprint(g) != fmt.Sprint(want[k]):
			t.Errorf("%s: %s differs:\n got %v\nwant %v", what, k, g, want[k])
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatalf("%s: too many differences", what)
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s: %v", what, k, got[k])
		}
	}
}

func sortedKeys(m map[string]entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
