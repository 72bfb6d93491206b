package fs_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/fs"
)

// mountCounted mounts a head through Head.Mount, as coffer mount does,
// counting its requests.
func mountCounted(t *testing.T) (dir string, counts *fs.RequestCounts) {
	t.Helper()
	s := newTestStore(t)
	counts = &fs.RequestCounts{}
	h, err := fs.NewHead(context.Background(), s.open(t), fs.HeadOptions{Logger: testLogger(), Host: testHost})
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	cacheFor := time.Minute
	srv, err := h.Mount(dir, &fusefs.Options{
		MountOptions: fuse.MountOptions{FsName: "coffer-test", Name: "coffer", DirectMount: true, DisableSplice: true,
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC},
		NullPermissions: true, EntryTimeout: &cacheFor, AttrTimeout: &cacheFor, NegativeTimeout: &cacheFor,
	}, counts.Observe(nil))
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		for range 50 {
			if srv.Unmount() == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	return dir, counts
}

// TestRequestCounts checks that requests are counted by operation; that
// closing a file opened only for reading costs no FLUSH (rsync opens every
// file it changes the mode of); and that writing a file opened write-only
// costs no GETXATTR of security.capability.
func TestRequestCounts(t *testing.T) {
	dir, counts := mountCounted(t)
	p := dir + "/f"
	writeFile(t, p, []byte("hello"), 0o644) // CREATE, WRITE, FLUSH, RELEASE
	for range 3 {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		must(t, f.Close())
	}
	if err := os.WriteFile(dir+"/f2", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := counts.Counts()
	for deadline := time.Now().Add(2 * time.Second); c["release"] < 5 && time.Now().Before(deadline); c = counts.Counts() {
		time.Sleep(5 * time.Millisecond) // releases are sent after close returns
	}
	if c["create"] != 2 || c["open"] != 3 || c["write"] != 1 {
		t.Errorf("counts = %v, want 2 CREATE, 3 OPEN and 1 WRITE", c)
	}
	if c["flush"] != 2 {
		t.Errorf("FLUSH = %d, want 2 (one per file written; none for read-only opens)", c["flush"])
	}
	if c["getxattr"] != 0 {
		t.Errorf("GETXATTR = %d, want 0 for files written write-only", c["getxattr"])
	}
	if c["release"] != 5 {
		t.Errorf("RELEASE = %d, want 5", c["release"])
	}
	out := t.TempDir() + "/counts.json"
	must(t, counts.WriteFile(out))
	if b := readFile(t, out); len(b) == 0 || b[0] != '{' {
		t.Errorf("counts file = %q, want a JSON object", b)
	}
}
