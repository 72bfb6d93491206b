package fs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	cfs "coffer/fs"
	"coffer/repo"
)

// mountSnapshotHandleless mounts snap as `coffer mount --snapshot` does,
// through Handleless, counting the requests the kernel sends.
func (s *testStore) mountSnapshotHandleless(t *testing.T, snap *repo.Snapshot) (string, *cfs.RequestCounts) {
	t.Helper()
	r := s.open(t)
	hour := time.Hour
	opts := &fusefs.Options{
		MountOptions: fuse.MountOptions{
			FsName: "coffer-test", Name: "coffer",
			MaxWrite: 1 << 20, MaxReadAhead: 1 << 20,
			DirectMount: true, DisableSplice: true,
			Options: []string{"ro"},
			Debug:   os.Getenv("COFFER_FUSE_DEBUG") != "",
		},
		NullPermissions: true,
		EntryTimeout:    &hour, AttrTimeout: &hour,
	}
	dir := t.TempDir()
	counts := &cfs.RequestCounts{}
	raw := cfs.Timed(cfs.Handleless(fusefs.NewNodeFS(cfs.NewSnapshotRoot(r, testLogger(), snap), opts)), counts.Observe(nil))
	srv, err := cfs.Serve(dir, raw, &opts.MountOptions)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return dir, counts
}

// TestInprocSnapshotHandleless: a mounted snapshot's directories are
// listed and its files read without handles (one OPENDIR and one OPEN,
// answered ENOSYS, then none, and no RELEASEDIR or RELEASE); a listing
// read in many chunks, each through a fresh handle, is whole, in order and
// without repeats, with every entry's attributes, twice over, as is a
// listing read a few entries at a time with seeks back; files read whole,
// at an offset and again, and opening one for writing fails with EROFS.
func TestInprocSnapshotHandleless(t *testing.T) {
	s := newTestStore(t)
	h := s.mountHead(t, cfs.HeadOptions{})
	long := strings.Repeat("n", 120) // so a listing spans many READDIRPLUS chunks
	var want []string
	must(t, os.Mkdir(h.path("big"), 0o755))
	for i := range 600 {
		name := fmt.Sprintf("%s%04d", long, i)
		writeFile(t, h.path("big", name), []byte(name[len(long):]), 0o640)
		want = append(want, name)
	}
	for _, d := range []string{"a", "a/b", "c"} {
		must(t, os.Mkdir(h.path(d), 0o755))
	}
	snap, _ := h.commit()
	h.unmount()

	dir, counts := s.mountSnapshotHandleless(t, snap)
	for round := range 2 {
		entries, err := os.ReadDir(filepath.Join(dir, "big"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: listing of big has %d entries, want %d (first %q)", round, len(got), len(want), got[:min(3, len(got))])
		}
		for _, name := range []string{want[0], want[299], want[599]} {
			fi, err := os.Lstat(filepath.Join(dir, "big", name))
			if err != nil || fi.Mode() != 0o640 || fi.Size() != 4 {
				t.Errorf("round %d: stat %s: %v, %v", round, name[len(long):], fi, err)
			}
		}
		var walked []string
		must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				walked = append(walked, rel)
			}
			return err
		}))
		if !slices.Equal(walked, []string{".", "a", "a/b", "big", "c"}) {
			t.Errorf("round %d: walk found directories %q", round, walked)
		}
	}

	// getdents in small chunks, with a seek back to the start midway.
	f, err := os.Open(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := func(n int) []string {
		var out []string
		for len(out) < n {
			buf := make([]byte, 512)
			k, err := syscall.Getdents(int(f.Fd()), buf)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				break
			}
			_, _, more := syscall.ParseDirent(buf[:k], -1, nil)
			for _, m := range more {
				if m != "." && m != ".." {
					out = append(out, m)
				}
			}
		}
		return out
	}
	first := names(20)
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if all := names(len(want) + 10); !slices.Equal(all, want) || !slices.Equal(first, want[:len(first)]) {
		t.Errorf("listing in small chunks: %d entries (want %d), first chunk %d entries in order: %v",
			len(all), len(want), len(first), slices.Equal(first, want[:len(first)]))
	}

	for round := range 2 {
		for _, name := range []string{want[0], want[599]} {
			if got := readFile(t, filepath.Join(dir, "big", name)); string(got) != name[len(long):] {
				t.Errorf("round %d: %s reads %q", round, name[len(long):], got)
			}
		}
	}
	g, err := os.Open(filepath.Join(dir, "big", want[7]))
	if err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, 8)
	if n, err := g.ReadAt(tail, 2); err != nil && n != 2 || string(tail[:n]) != "07" {
		t.Errorf("reading at offset 2: %q, %v", tail[:n], err)
	}
	must(t, g.Close())
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC} {
		f, err := os.OpenFile(filepath.Join(dir, "big", want[1]), flag, 0)
		if err == nil {
			f.Close()
		}
		wantErrno(t, fmt.Sprintf("open with flags %#x", flag), err, syscall.EROFS)
	}

	c := counts.Counts()
	if c["open"] != 1 || c["release"] != 0 {
		t.Errorf("requests: open %d (want 1), release %d (want 0)", c["open"], c["release"])
	}
	if c["opendir"] != 1 || c["releasedir"] != 0 || c["readdirplus"]+c["readdir"] < 10 {
		t.Errorf("requests: opendir %d (want 1), releasedir %d (want 0), readdir(plus) %d (want many)",
			c["opendir"], c["releasedir"], c["readdirplus"]+c["readdir"])
	}
}
