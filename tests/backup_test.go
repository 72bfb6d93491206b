package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// backupSummary is `coffer backup --json`.
type backupSummary struct {
	ID        string `json:"id"`
	Parent    string `json:"parent"`
	Files     uint64 `json:"files"`
	New       uint64 `json:"files_new"`
	Changed   uint64 `json:"files_changed"`
	Unchanged uint64 `json:"files_unmodified"`
	Read      int64  `json:"bytes_read"`
	Errors    int    `json:"errors"`
}

func (r *repo) backup(t *testing.T, args ...string) backupSummary {
	t.Helper()
	res := r.mustCoffer(t, longTimeout, append(append([]string{"backup", "--json"}, args...), r.repoArgs()...)...)
	var s backupSummary
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil || s.ID == "" {
		t.Fatalf("coffer backup --json printed %q: %v", res.stdout, err)
	}
	return s
}

// specials makes a fifo, a character device and a socket in dir (devices
// and sockets need root: mknod(2)).
func specials(t *testing.T, dir string) map[string]syscall.Stat_t {
	must(t, os.Mkdir(dir, 0o750))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640))
	if os.Getuid() == 0 {
		must(t, syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, int(1<<8|3)))
		must(t, syscall.Mknod(filepath.Join(dir, "sock"), syscall.S_IFSOCK|0o600, 0))
	}
	out := map[string]syscall.Stat_t{}
	names, err := os.ReadDir(dir)
	must(t, err)
	for _, n := range names {
		var st syscall.Stat_t
		must(t, syscall.Lstat(filepath.Join(dir, n.Name()), &st))
		out[n.Name()] = st
	}
	return out
}

func checkSpecials(t *testing.T, dir string, want map[string]syscall.Stat_t) {
	t.Helper()
	for name, w := range want {
		var g syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, name), &g); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if g.Mode != w.Mode || g.Rdev != w.Rdev || g.Uid != w.Uid || g.Mtim != w.Mtim {
			t.Errorf("%s: mode %o rdev %x uid %d mtime %v, want %o %x %d %v", name, g.Mode, g.Rdev, g.Uid, g.Mtim, w.Mode, w.Rdev, w.Uid, w.Mtim)
		}
	}
}

// TestBackup backs up a tree with every kind of entry with `coffer
// backup` (no mount), then compares a read-only mount of the snapshot
// with the source, byte for byte and in metadata; an unchanged re-run
// reads no file; after one change only that file is read, and a
// read-write mount's head is the backed-up tree. While a mount writes to
// the repository, a backup is refused, naming the mount.
func TestBackup(t *testing.T) {
	tool(t, "setfacl")
	forEachBackend(t, func(t *testing.T, be *backend) {
		src := filepath.Join(t.TempDir(), "src")
		buildRestoreTree(t, src)
		spec := specials(t, filepath.Join(src, "special"))
		want := scanTree(t, src, "special")
		r := newRepo(t, be)

		first := r.backup(t, src, "--tag", "first")
		if first.Errors != 0 || first.New == 0 || first.New != first.Files-first.Unchanged || first.Read == 0 || first.Parent != "" {
			t.Errorf("first backup: %+v", first)
		}
		m := r.mount(t, "--snapshot", "latest")
		compareTrees(t, "mount of the backup's snapshot", want, scanTree(t, m.dir, "special"), cmpOpts{})
		checkSpecials(t, filepath.Join(m.dir, "special"), spec)
		m.umount(t)

		again := r.backup(t, src)
		if again.Read != 0 || again.New+again.Changed != 0 || again.Unchanged != first.Files || again.Parent != first.ID {
			t.Errorf("unchanged re-run: %+v; want nothing read, all %d files unmodified, parent %s", again, first.Files, first.ID)
		}

		changed := filepath.Join(src, "files", "b4096")
		f, err := os.OpenFile(changed, os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
		_, err = f.WriteString("more")
		must(t, err)
		must(t, f.Close())
		third := r.backup(t, src)
		if third.Read != 4100 || third.Changed != 1 || third.New != 0 || third.Parent != again.ID {
			t.Errorf("after one file changed: %+v; want 4100 bytes of one changed file read", third)
		}

		// The head of a read-write mount starts from the backup, and
		// while it runs a backup is refused.
		want = scanTree(t, src, "special")
		m = r.mount(t)
		compareTrees(t, "head of a read-write mount after the backup", want, scanTree(t, m.dir, "special"), cmpOpts{})
		res := r.coffer(t, longTimeout, append([]string{"backup", src}, r.repoArgs()...)...)
		if res.exitCode() != 2 || !strings.Contains(res.stderr, m.dir) || !strings.HasPrefix(res.stderr, "coffer: ") {
			t.Errorf("backup while mounted read-write: %s; want exit 2 naming %s", res, m.dir)
		}
		m.umount(t)
		if n := len(r.snapshots(t)); n != 3 {
			t.Errorf("%d snapshots, want the 3 backups", n)
		}
		// Each backup is a session with its commit, as a mount's is; the
		// refused one wrote nothing.
		recs, _ := r.auditVerify(t)
		session := ",mount,commit,retention,unmount"
		if got, want := auditKinds(recs), "init"+session+",mount,unmount"+session+session+",mount,unmount"; got != want {
			t.Errorf("audit records %s, want %s", got, want)
		}
	})
}

// TestBackupOneFileSystem: --one-file-system keeps a filesystem mounted
// below the source as its empty mountpoint; without it the backup goes in.
func TestBackupOneFileSystem(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		src := t.TempDir()
		writeFile(t, filepath.Join(src, "top"), []byte("top"), 0o644)
		inner := filepath.Join(src, "inner")
		must(t, os.Mkdir(inner, 0o755))
		must(t, syscall.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"))
		t.Cleanup(func() { _ = syscall.Unmount(inner, syscall.MNT_DETACH) })
		writeFile(t, filepath.Join(inner, "below"), []byte("below"), 0o644)
		r := newRepo(t, be)
		if s := r.backup(t, src, "--one-file-system"); s.Files != 1 {
			t.Errorf("--one-file-system backed up %d files, want only top", s.Files)
		}
		if s := r.backup(t, src); s.Files != 2 {
			t.Errorf("without --one-file-system: %d files, want top and inner/below", s.Files)
		}
		res := r.mustCoffer(t, shortTimeout, append([]string{"ls", "latest:/inner"}, r.repoArgs()...)...)
		if !strings.Contains(res.stdout, "below") {
			t.Errorf("coffer ls latest:/inner: %q; want below", res.stdout)
		}
	})
}
