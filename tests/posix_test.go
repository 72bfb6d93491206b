package tests

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The POSIX details below were found by a pjdfstest run; each compares the
// head with what Linux does on a local filesystem. The test process makes
// the system calls itself: the daemon serving the mount is another process.

// TestPOSIX runs each detail as its own subtest on one mount per backend.
func TestPOSIX(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		m := newRepo(t, be).mount(t)
		for _, c := range []struct {
			name string
			fn   func(t *testing.T, m *mount, dir string)
		}{
			{"ChownClearsSetID", testChownClearsSetID},
			{"NameTooLong", testNameTooLong},
			{"UnlinkOneOfSeveralLinks", testUnlinkOneOfSeveralLinks},
			{"RenameOntoLinkedFile", testRenameOntoLinkedFile},
			{"UnlinkOpenFile", testUnlinkOpenFile},
			{"TruncateFinishedFile", testTruncateFinishedFile},
			{"ReopenFinishedReadWrite", testReopenFinishedReadWrite},
		} {
			t.Run(c.name, func(t *testing.T) {
				dir := filepath.Join(m.dir, c.name)
				must(t, os.Mkdir(dir, 0o755))
				c.fn(t, m, dir)
			})
		}
	})
}

// localDir is a scratch directory on a kernel filesystem to compare with.
func localDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "coffer-posix-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func lstat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Lstat(path, &st))
	return &st
}

func ctimeOf(st *syscall.Stat_t) time.Time { return time.Unix(st.Ctim.Sec, st.Ctim.Nsec) }
func mtimeOf(st *syscall.Stat_t) time.Time { return time.Unix(st.Mtim.Sec, st.Mtim.Nsec) }

// nap lets the clock move past a timestamp just taken.
func nap() { time.Sleep(20 * time.Millisecond) }

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// testChownClearsSetID: chown of a non-directory clears set-user-ID, and
// set-group-ID when the group may execute; a directory keeps both. The
// modes after chown must equal a local filesystem's.
func testChownClearsSetID(t *testing.T, _ *mount, dir string) {
	local := localDir(t)
	for _, c := range []struct {
		name string
		mode uint32
		dir  bool
	}{
		{"f6555", 06555, false}, {"f4755", 04755, false}, {"f2755", 02755, false},
		{"f2644", 02644, false}, {"f0755", 0755, false}, {"d2755", 02755, true},
	} {
		var modes [2]uint32
		for i, root := range []string{local, dir} {
			p := filepath.Join(root, c.name)
			if c.dir {
				must(t, os.Mkdir(p, 0o755))
			} else {
				must(t, os.WriteFile(p, []byte("x"), 0o644))
			}
			must(t, syscall.Chmod(p, c.mode))
			must(t, os.Chown(p, 65534, 65534))
			modes[i] = lstat(t, p).Mode & 07777
		}
		if modes[0] != modes[1] {
			t.Errorf("%s: mode %04o after chown = %04o, local filesystem %04o", c.name, c.mode, modes[1], modes[0])
		}
	}
}

// testNameTooLong: a name of more than 255 bytes is ENAMETOOLONG for every
// call that names it; 255 bytes is fine.
func testNameTooLong(t *testing.T, _ *mount, dir string) {
	long := filepath.Join(dir, strings.Repeat("n", 256))
	ok := filepath.Join(dir, strings.Repeat("n", 255))
	must(t, os.WriteFile(ok, []byte("x"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, strings.Repeat("d", 255)), 0o755))

	wantErrno(t, "mkdir", syscall.Mkdir(long, 0o755), syscall.ENAMETOOLONG)
	_, err := os.OpenFile(long, os.O_CREATE|os.O_WRONLY, 0o644)
	wantErrno(t, "create", err, syscall.ENAMETOOLONG)
	wantErrno(t, "mknod", syscall.Mknod(long, syscall.S_IFIFO|0o644, 0), syscall.ENAMETOOLONG)
	wantErrno(t, "link", os.Link(ok, long), syscall.ENAMETOOLONG)
	wantErrno(t, "symlink", os.Symlink("target", long), syscall.ENAMETOOLONG)
	wantErrno(t, "rename", os.Rename(ok, long), syscall.ENAMETOOLONG)
	_, err = os.Lstat(long)
	wantErrno(t, "lookup", err, syscall.ENAMETOOLONG)
	if _, err := os.Lstat(ok); err != nil {
		t.Errorf("a 255-byte name: %v", err)
	}
	ents, err := os.ReadDir(dir)
	must(t, err)
	if len(ents) != 2 {
		t.Errorf("directory holds %d entries, want the two 255-byte names", len(ents))
	}
}

// testUnlinkOneOfSeveralLinks: removing one name of a file changes the
// file (its link count), so its ctime moves.
func testUnlinkOneOfSeveralLinks(t *testing.T, _ *mount, dir string) {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	must(t, os.WriteFile(a, []byte("x"), 0o644))
	must(t, os.Link(a, b))
	before := lstat(t, b)
	nap()
	must(t, os.Remove(a))
	after := lstat(t, b)
	if after.Nlink != 1 {
		t.Errorf("nlink after unlinking one of two names = %d, want 1", after.Nlink)
	}
	if !ctimeOf(after).After(ctimeOf(before)) {
		t.Errorf("ctime after unlinking another name = %v, not after %v", ctimeOf(after), ctimeOf(before))
	}
}

// testRenameOntoLinkedFile is pjdfstest rename/23: renaming onto one name
// of a multiply linked file leaves the other name with one link less and a
// new ctime.
func testRenameOntoLinkedFile(t *testing.T, _ *mount, dir string) {
	for _, kind := range []struct {
		name string
		mode uint32
	}{
		{"regular", syscall.S_IFREG}, {"fifo", syscall.S_IFIFO}, {"char", syscall.S_IFCHR},
		{"block", syscall.S_IFBLK}, {"socket", syscall.S_IFSOCK},
	} {
		src, dst, lnk := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "lnk")
		must(t, syscall.Mknod(src, kind.mode|0o644, 0))
		must(t, syscall.Mknod(dst, kind.mode|0o644, 0))
		must(t, os.Link(dst, lnk))
		before := lstat(t, lnk)
		nap()
		must(t, os.Rename(src, dst))
		after := lstat(t, lnk)
		if after.Nlink != 1 || after.Mode&syscall.S_IFMT != kind.mode {
			t.Errorf("%s: after rename onto its other name: nlink %d mode %o, want 1 and type %o",
				kind.name, after.Nlink, after.Mode, kind.mode)
		}
		if !ctimeOf(after).After(ctimeOf(before)) {
			t.Errorf("%s: ctime after rename onto its other name = %v, not after %v", kind.name, ctimeOf(after), ctimeOf(before))
		}
		must(t, os.Remove(dst))
		must(t, os.Remove(lnk))
	}
}

// testUnlinkOpenFile is pjdfstest unlink/14: an open file outlives its
// name until it is closed, finished or still being written.
func testUnlinkOpenFile(t *testing.T, _ *mount, dir string) {
	done := filepath.Join(dir, "done")
	must(t, os.WriteFile(done, []byte("Hello, World!"), 0o644))
	f, err := os.Open(done)
	must(t, err)
	must(t, os.Remove(done))
	checkUnlinked(t, "a finished file", f, "Hello, World!")
	must(t, f.Close())

	fresh := filepath.Join(dir, "fresh")
	f, err = os.OpenFile(fresh, os.O_CREATE|os.O_RDWR, 0o644)
	must(t, err)
	_, err = f.Write([]byte("Hello,"))
	must(t, err)
	must(t, os.Remove(fresh))
	_, err = f.Write([]byte("_World!"))
	must(t, err)
	checkUnlinked(t, "a file being written", f, "Hello,_World!")
	must(t, f.Close())
	if _, err := os.Lstat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unlinked file's name after close: %v", err)
	}
	ents, err := os.ReadDir(dir)
	must(t, err)
	if len(ents) != 0 {
		t.Errorf("directory still lists %d entries", len(ents))
	}
}

func checkUnlinked(t *testing.T, what string, f *os.File, want string) {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Fstat(int(f.Fd()), &st))
	if st.Nlink != 0 {
		t.Errorf("%s: fstat nlink after unlink = %d, want 0", what, st.Nlink)
	}
	buf := make([]byte, 64)
	k, err := f.ReadAt(buf, 0)
	if k != len(want) || string(buf[:k]) != want {
		t.Errorf("%s: pread after unlink = %q (%v), want %q", what, buf[:k], err, want)
	}
}

// testTruncateFinishedFile: `: > file` on a finished file truncates it
// without a write, and like on a local filesystem its mtime and ctime
// move.
func testTruncateFinishedFile(t *testing.T, _ *mount, dir string) {
	p := filepath.Join(dir, "f")
	must(t, os.WriteFile(p, []byte("old bytes"), 0o644))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(p, old, old))
	before := lstat(t, p)
	nap()
	if res := sh(t, shortTimeout, ": > "+p); res.err != nil {
		t.Fatalf(": > file: %v", res)
	}
	after := lstat(t, p)
	if after.Size != 0 {
		t.Errorf("size after truncation = %d", after.Size)
	}
	if !mtimeOf(after).After(time.Now().Add(-time.Minute)) {
		t.Errorf("mtime after truncation = %v, want now", mtimeOf(after))
	}
	if !ctimeOf(after).After(ctimeOf(before)) {
		t.Errorf("ctime after truncation = %v, not after %v", ctimeOf(after), ctimeOf(before))
	}
}

// testReopenFinishedReadWrite: a finished file opens O_RDWR (tools do it
// only to fsync); fsync succeeds, anything that would change its bytes is
// EPERM at once, a snapshot does not wait for the handle, and the bytes
// stay.
func testReopenFinishedReadWrite(t *testing.T, m *mount, dir string) {
	p := filepath.Join(dir, "f")
	data := bytes.Repeat([]byte("finished "), 1000)
	must(t, os.WriteFile(p, data, 0o644))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open O_RDWR of a finished file: %v", err)
	}
	defer f.Close()
	must(t, f.Sync())
	_, err = f.Write([]byte("x"))
	wantErrno(t, "write", err, syscall.EPERM)
	_, err = f.WriteAt([]byte("x"), 3)
	wantErrno(t, "pwrite", err, syscall.EPERM)
	wantErrno(t, "ftruncate to 0", f.Truncate(0), syscall.EPERM)
	wantErrno(t, "ftruncate to its size", f.Truncate(int64(len(data))), syscall.EPERM)
	wantErrno(t, "fallocate", syscall.Fallocate(int(f.Fd()), 0, 0, 1<<20), syscall.EPERM)
	if _, err := syscall.Mmap(int(f.Fd()), 0, len(data), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err == nil {
		t.Errorf("a writable shared mmap of a finished file succeeded")
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read through the O_RDWR handle: %v", err)
	}
	must(t, f.Sync())

	// Not a writer: a snapshot taken while it is open holds the file.
	m.snapshot(t)
	rel, err := filepath.Rel(m.dir, p)
	must(t, err)
	inSnap, err := os.ReadFile(filepath.Join(m.dir, ".snapshots", "latest", rel))
	if err != nil || !bytes.Equal(inSnap, data) {
		t.Errorf("a snapshot taken while the file was open O_RDWR: %v", err)
	}
	must(t, f.Close())
	got, err = os.ReadFile(p)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Errorf("a finished file's bytes changed")
	}
}
