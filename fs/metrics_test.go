package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/fs"
)

// Head.Mount with an observer times every request by operation, and the
// head still applies the creator's umask (the wrapper sits outside it).
func TestMountObservesRequests(t *testing.T) {
	s := newTestStore(t)
	r := s.open(t)
	h, err := fs.NewHead(context.Background(), r, fs.HeadOptions{Logger: testLogger(), Host: testHost})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	obs := func(op string, took time.Duration) {
		if took < 0 {
			t.Errorf("%s took %v", op, took)
		}
		mu.Lock()
		seen[op]++
		mu.Unlock()
	}
	dir := t.TempDir()
	srv, err := h.Mount(dir, &fusefs.Options{MountOptions: fuse.MountOptions{FsName: "coffer-test", DirectMount: true}}, obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Unmount() })
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o777); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "d", "f")
	if err := os.WriteFile(p, []byte("timed"), 0o666); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want the umask applied (0644)", fi.Mode().Perm())
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "timed" {
		t.Fatalf("read back %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Not release: the kernel sends it after close has returned.
	for _, op := range []string{"mkdir", "create", "write", "lookup", "flush"} {
		if seen[op] == 0 {
			t.Errorf("no %s observed (saw %v)", op, seen)
		}
	}
}
