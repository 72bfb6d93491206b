package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// newRand is a fast deterministic generator for file contents; each test
// seeds its own from its name so failures reproduce.
func newRand(seed string) *rand.Rand {
	var s [32]byte
	copy(s[:], seed)
	return rand.New(rand.NewChaCha8(sha256.Sum256(s[:])))
}

// randBytes returns n random bytes.
func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeRandomFile writes size random bytes to path, in 1 MiB pieces.
func writeRandomFile(t testing.TB, path string, size int64, rng *rand.Rand) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for left := size; left > 0; {
		n := min(left, mib)
		if _, err := f.Write(randBytes(rng, int(n))); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mkdirs(t testing.TB, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lutimes sets a path's atime and mtime without following a symlink.
func lutimes(path string, atime, mtime time.Time) error {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	ts := [2]syscall.Timespec{
		syscall.NsecToTimespec(atime.UnixNano()),
		syscall.NsecToTimespec(mtime.UnixNano()),
	}
	atFDCWD := -100
	const atSymlinkNoFollow = 0x100
	_, _, errno := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(atFDCWD),
		uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&ts[0])), atSymlinkNoFollow, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "utimensat", Path: path, Err: errno}
	}
	return nil
}

// setTimesBottomUp gives every entry under root (root included) a distinct
// old mtime with a non-zero nanosecond part, children before their
// directories so that setting a child does not disturb its parent.
func setTimesBottomUp(t testing.TB, root string, base time.Time) {
	t.Helper()
	var paths []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	sort.Strings(paths)
	for i := len(paths) - 1; i >= 0; i-- {
		mt := base.Add(time.Duration(i)*time.Hour + time.Duration(123456789+i))
		must(t, lutimes(paths[i], mt, mt))
	}
}

// setxattr sets an extended attribute on a file or directory.
func setxattr(t testing.TB, path, name, value string) {
	t.Helper()
	if err := syscall.Setxattr(path, name, []byte(value), 0); err != nil {
		t.Fatalf("setxattr %s %s: %v", path, name, err)
	}
}

// entry is the metadata and content identity of one name in a tree.
type entry struct {
	typ    fs.FileMode // fs.ModeDir, fs.ModeSymlink, 0 for regular
	perm   uint32      // st_mode & 07777
	uid    uint32
	gid    uint32
	size   int64
	mtime  time.Time
	nlink  uint64 // regular files only
	sha    string // regular files only
	target string // symlinks only
	xattrs map[string]string
	ino    uint64
	links  string // other names of the same inode, for hard links
}

// manifest maps slash paths relative to the tree's root ("." is the root)
// to their entries.
type manifest map[string]*entry

// scanTree walks root without following symlinks and records everything the
// tests compare. The walk does not enter skip (relative names).
func scanTree(t testing.TB, root string, skip ...string) manifest {
	t.Helper()
	m := manifest{}
	skipSet := map[string]bool{}
	for _, s := range skip {
		skipSet[s] = true
	}
	byIno := map[uint64][]string{}
	// .snapshots/latest may be a symlink to the snapshot's directory.
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(root)
		if err != nil {
			t.Fatalf("resolving %s: %v", root, err)
		}
		root = resolved
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if skipSet[rel] {
			return fs.SkipDir
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		e := &entry{
			perm:  st.Mode & 0o7777,
			uid:   st.Uid,
			gid:   st.Gid,
			size:  st.Size,
			mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
			ino:   st.Ino,
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			e.typ = fs.ModeDir
			e.size = 0
		case syscall.S_IFLNK:
			e.typ = fs.ModeSymlink
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFREG:
			e.nlink = uint64(st.Nlink)
			if e.sha, err = fileSHA(p); err != nil {
				return err
			}
			if st.Nlink > 1 {
				byIno[st.Ino] = append(byIno[st.Ino], rel)
			}
		default:
			return fmt.Errorf("%s: unexpected file type %o", p, st.Mode&syscall.S_IFMT)
		}
		if e.typ != fs.ModeSymlink {
			if e.xattrs, err = readXattrs(p); err != nil {
				return err
			}
		}
		m[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", root, err)
	}
	for _, names := range byIno {
		sort.Strings(names)
		for _, n := range names {
			m[n].links = strings.Join(names, " ")
		}
	}
	return m
}

func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readXattrs returns every extended attribute of p (following symlinks, so
// callers skip them), without security.selinux which a host may add.
func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	n, err := syscall.Listxattr(p, buf)
	if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENODATA) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "listxattr", Path: p, Err: err}
	}
	var out map[string]string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		v := make([]byte, 64<<10)
		vn, err := syscall.Getxattr(p, name, v)
		if err != nil {
			return nil, &os.PathError{Op: "getxattr " + name, Path: p, Err: err}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(v[:vn])
	}
	return out, nil
}

// cmpOpts relaxes a comparison where a tool does not carry something.
type cmpOpts struct {
	mtimeSeconds bool // compare mtimes to the second (tar)
	noXattrs     bool // the tool does not carry xattrs
}

// diffManifests lists every difference between want and got.
func diffManifests(want, got manifest, o cmpOpts) []string {
	var diffs []string
	add := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if want[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		w, g := want[n], got[n]
		switch {
		case g == nil:
			add("%s: missing", n)
			continue
		case w == nil:
			add("%s: unexpected extra entry", n)
			continue
		case w.typ != g.typ:
			add("%s: type %v, want %v", n, g.typ, w.typ)
			continue
		}
		if w.perm != g.perm && w.typ != fs.ModeSymlink {
			add("%s: mode %04o, want %04o", n, g.perm, w.perm)
		}
		if w.uid != g.uid || w.gid != g.gid {
			add("%s: owner %d:%d, want %d:%d", n, g.uid, g.gid, w.uid, w.gid)
		}
		wm, gm := w.mtime, g.mtime
		if o.mtimeSeconds {
			wm, gm = wm.Truncate(time.Second), gm.Truncate(time.Second)
		}
		if !wm.Equal(gm) {
			add("%s: mtime %v, want %v", n, gm.UTC().Format(time.RFC3339Nano), wm.UTC().Format(time.RFC3339Nano))
		}
		switch w.typ {
		case 0:
			if w.size != g.size {
				add("%s: size %d, want %d", n, g.size, w.size)
			}
			if w.sha != g.sha {
				add("%s: contents differ (sha256 %.12s, want %.12s)", n, g.sha, w.sha)
			}
			if w.nlink != g.nlink {
				add("%s: link count %d, want %d", n, g.nlink, w.nlink)
			}
			if w.links != g.links {
				add("%s: shares its inode with [%s], want [%s]", n, g.links, w.links)
			}
		case fs.ModeSymlink:
			if w.target != g.target {
				add("%s: symlink to %q, want %q", n, g.target, w.target)
			}
		}
		if !o.noXattrs && fmt.Sprint(w.xattrs) != fmt.Sprint(g.xattrs) {
			add("%s: xattrs %q, want %q", n, g.xattrs, w.xattrs)
		}
	}
	return diffs
}

// compareTrees fails the test if the tree at got differs from want.
func compareTrees(t testing.TB, label string, want, got manifest, o cmpOpts) {
	t.Helper()
	diffs := diffManifests(want, got, o)
	if len(diffs) == 0 {
		return
	}
	if len(diffs) > 40 {
		diffs = append(diffs[:40], fmt.Sprintf("… and %d more", len(diffs)-40))
	}
	t.Errorf("%s: %d differences:\n  %s", label, len(diffs), strings.Join(diffs, "\n  "))
}

// buildRsyncTree builds the tree the rsync tests copy: every size boundary,
// symlinks of each kind, hard links across directories, empty directories,
// odd modes and owners, old nanosecond mtimes and xattrs.
func buildRsyncTree(t testing.TB, root string, rng *rand.Rand, withBig bool) {
	t.Helper()
	mkdirs(t, root, "files", "links", "hard/a", "hard/b", "hard/c",
		"empty1", "deep/er/empty2", "sticky", "xattrdir", "名前 with space")
	sizes := map[string]int64{
		"files/empty": 0, "files/one": 1, "files/b4095": 4095, "files/b4096": 4096,
		"files/mib1": mib + 1, "files/b65537": 64*kib + 1,
		"hard/a/two": 10 * kib, "hard/a/three": 3*kib + 7,
		"sticky/inside": 100, "名前 with space/ファイル.txt": 333,
	}
	if withBig {
		sizes["files/big"] = 100 * mib
	}
	for p, n := range sizes {
		writeRandomFile(t, filepath.Join(root, p), n, rng)
	}
	// Hard links: two names across directories, and three names.
	must(t, os.Link(filepath.Join(root, "hard/a/two"), filepath.Join(root, "hard/b/two-again")))
	must(t, os.Link(filepath.Join(root, "hard/a/three"), filepath.Join(root, "hard/b/three-b")))
	must(t, os.Link(filepath.Join(root, "hard/a/three"), filepath.Join(root, "hard/c/three-c")))
	// Symlinks: relative, absolute, dangling, to a directory.
	must(t, os.Symlink("../files/one", filepath.Join(root, "links/rel")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(root, "links/abs")))
	must(t, os.Symlink("does/not/exist", filepath.Join(root, "links/dangling")))
	must(t, os.Symlink("../hard", filepath.Join(root, "links/todir")))
	// Owners, then modes (chown clears setuid).
	for p, mode := range map[string]uint32{
		"files/b4095":  0o600,
		"files/b4096":  0o755,
		"files/one":    0o4755, // setuid
		"files/b65537": 0o000,
		"files/empty":  0o640,
	} {
		must(t, os.Chown(filepath.Join(root, p), 1234, 5678))
		must(t, syscall.Chmod(filepath.Join(root, p), mode))
	}
	must(t, os.Lchown(filepath.Join(root, "links/rel"), 4321, 8765))
	must(t, syscall.Chmod(filepath.Join(root, "sticky"), 0o1777))
	must(t, syscall.Chmod(filepath.Join(root, "deep/er"), 0o700))
	// Extended attributes on files, a hard link and directories.
	setxattr(t, filepath.Join(root, "files/one"), "user.foo", "bar")
	setxattr(t, filepath.Join(root, "files/mib1"), "user.foo", "a longer value\x00with a NUL")
	setxattr(t, filepath.Join(root, "files/mib1"), "user.second", "2")
	setxattr(t, filepath.Join(root, "hard/a/three"), "user.foo", "shared by three names")
	setxattr(t, filepath.Join(root, "xattrdir"), "user.foo", "on a directory")
	setxattr(t, root, "user.root", "on the root")
	// Old times, 1990 onwards, with nanoseconds.
	setTimesBottomUp(t, root, time.Date(1990, 5, 17, 3, 4, 5, 0, time.UTC))
}
