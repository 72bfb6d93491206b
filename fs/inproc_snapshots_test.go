package fs_test

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/fs"
	"coffer/repo"
)

// TestInprocSnapshotsDir checks .snapshots: reachable by name but never
// listed, one directory per snapshot plus "latest", all read-only.
func TestInprocSnapshotsDir(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	snaps := m.path(fs.SnapshotsName)
	var st syscall.Stat_t
	if err := syscall.Stat(snaps, &st); err != nil || st.Mode != syscall.S_IFDIR|0o555 {
		t.Fatalf("stat .snapshots: mode %o, err %v", st.Mode, err)
	}
	if _, err := os.Readlink(m.snapPath("latest")); !os.IsNotExist(err) {
		t.Errorf("latest before any snapshot: %v", err)
	}
	wantErrno(t, "mkdir .snapshots", syscall.Mkdir(snaps, 0o755), syscall.EEXIST)
	_, err := os.OpenFile(snaps, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	wantErrno(t, "create .snapshots", err, syscall.EEXIST)

	if err := os.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m.path("d/f"), []byte("v1"), 0o644)
	if err := unix.Setxattr(m.path("d/f"), "user.a", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/f", m.path("ln")); err != nil {
		t.Fatal(err)
	}
	_, first := m.commit()
	writeFile(t, m.path("d/f"), []byte("v2"), 0o644)
	_, second := m.commit()

	names, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		if e.Name() == fs.SnapshotsName {
			t.Error("readdir of the head lists .snapshots")
		}
	}
	var listed []string
	entries, err := os.ReadDir(snaps)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		listed = append(listed, e.Name())
	}
	if want := []string{first, second, "latest"}; !slices.Equal(listed, sortedStrings(want)) {
		t.Errorf(".snapshots lists %q, want %q", listed, sortedStrings(want))
	}
	if got, _ := os.Readlink(m.snapPath("latest")); got != second {
		t.Errorf("latest → %q, want %q", got, second)
	}
	for _, c := range []struct{ path, want string }{
		{m.snapPath(first, "d/f"), "v1"},
		{m.snapPath(second, "d/f"), "v2"},
		{m.snapPath("latest", "d/f"), "v2"},
		{m.snapPath(first, "ln"), "v1"}, // through the stored symlink
	} {
		if got := string(readFile(t, c.path)); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
	if x := readXattrs(t, m.snapPath(first, "d/f")); x["user.a"] != "x" || len(x) != 1 {
		t.Errorf("xattrs in the snapshot: %q", x)
	}
	if target, _ := os.Readlink(m.snapPath(first, "ln")); target != "d/f" {
		t.Errorf("symlink in the snapshot → %q", target)
	}
	if _, err := os.Lstat(m.snapPath(first, "nothing")); !os.IsNotExist(err) {
		t.Errorf("missing name in a snapshot: %v", err)
	}
	if _, err := os.Lstat(m.snapPath("2000-01-01T00-00-00Z")); !os.IsNotExist(err) {
		t.Errorf("unknown snapshot: %v", err)
	}
	assertReadOnly(t, m, m.snapPath(first))
	assertReadOnly(t, m, snaps)
}

// assertReadOnly tries every change in dir (a snapshot, or .snapshots)
// and expects EROFS.
func assertReadOnly(t *testing.T, m *mount, dir string) {
	t.Helper()
	f, d := dir+"/d/f", dir+"/d"
	if dir == m.path(fs.SnapshotsName) {
		f, d = dir+"/latest", dir+"/latest"
	}
	mt := time.Now()
	for what, err := range map[string]error{
		"create":      func() error { _, err := os.Create(dir + "/new"); return err }(),
		"mkdir":       syscall.Mkdir(dir+"/newdir", 0o755),
		"mknod":       syscall.Mknod(dir+"/fifo", syscall.S_IFIFO|0o644, 0),
		"symlink":     syscall.Symlink("x", dir+"/sl"),
		"link":        syscall.Link(m.path("d/f"), dir+"/hl"),
		"unlink":      syscall.Unlink(f),
		"rmdir":       syscall.Rmdir(d),
		"rename":      syscall.Rename(f, dir+"/moved"),
		"chmod":       syscall.Chmod(d, 0o777),
		"chown":       syscall.Lchown(f, 1, 1),
		"utimes":      os.Chtimes(d, mt, mt),
		"setxattr":    unix.Lsetxattr(d, "user.b", []byte("y"), 0),
		"removexattr": unix.Lremovexattr(d, "user.a"),
		"open O_WRONLY": func() error {
			_, err := os.OpenFile(f, os.O_WRONLY, 0)
			return err
		}(),
		"open O_TRUNC": func() error {
			_, err := os.OpenFile(f, os.O_RDONLY|os.O_TRUNC, 0)
			return err
		}(),
		"truncate": os.Truncate(f, 0),
	} {
		if dir == m.path(fs.SnapshotsName) && !slices.Contains([]string{"create", "mkdir", "mknod", "symlink", "link", "unlink", "rename", "chown"}, what) {
			continue // on "latest", a symlink: checked in the snapshot it leads to
		}
		wantErrno(t, dir+": "+what, err, syscall.EROFS)
	}
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestInprocSnapshotFromElsewhere finds, by name, a snapshot committed
// after the mount started, by someone else.
func TestInprocSnapshotFromElsewhere(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	writeFile(t, m.path("f"), []byte("mine"), 0o644)
	snap, _ := m.commit()
	other := s.open(t)
	copied := *snap
	copied.Time = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	copied.Parent = snap.ID
	if err := other.SaveSnapshot(context.Background(), &copied); err != nil {
		t.Fatal(err)
	}
	name := copied.Time.Format(repo.SnapshotTimeFormat)
	if got := string(readFile(t, m.snapPath(name, "f"))); got != "mine" {
		t.Errorf("%s/f: %q", name, got)
	}
}
