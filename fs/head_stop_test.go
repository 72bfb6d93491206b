package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore/memory"
	"coffer/repo"
)

// stopTestHead mounts a head over a memory store in a temporary directory,
// in this process, and returns it with its mountpoint.
func stopTestHead(t *testing.T) (*Head, string) {
	t.Helper()
	ctx := context.Background()
	st := memory.New(time.Now)
	secret := repo.Secret{Passphrase: []byte("pw"), KDF: cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}}
	if _, err := repo.Init(ctx, st, secret, repo.InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Now:     time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, secret, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	h, err := NewHead(ctx, r, HeadOptions{Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	// As the daemon mounts: O_TRUNC reaches Open.
	opts := &fusefs.Options{MountOptions: fuse.MountOptions{ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC}}
	server, err := fusefs.Mount(mnt, h.Root(), opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	return h, mnt
}

// waitWriters polls OpenWriters until it equals want: a release reaches
// the daemon shortly after close(2) returns.
func waitWriters(t *testing.T, h *Head, want []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(h.OpenWriters(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("OpenWriters = %q, want %q", h.OpenWriters(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStopRefusesNewWriters(t *testing.T) {
	h, mnt := stopTestHead(t)
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "done"), []byte("closed"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mnt, "d", "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("being written")); err != nil {
		t.Fatal(err)
	}
	waitWriters(t, h, []string{"/d/open"})

	h.BeginStop()
	for _, open := range []func() (*os.File, error){
		func() (*os.File, error) { return os.Create(filepath.Join(mnt, "new")) },
		func() (*os.File, error) { return os.OpenFile(filepath.Join(mnt, "done"), os.O_WRONLY|os.O_TRUNC, 0) },
	} {
		if g, err := open(); !errors.Is(err, syscall.EROFS) {
			if g != nil {
				g.Close()
			}
			t.Errorf("open for writing during a stop: %v; want EROFS", err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "done")); err != nil || string(got) != "closed" {
		t.Errorf("reading during a stop: %q, %v", got, err)
	}
	if _, err := f.Write([]byte(", still")); err != nil {
		t.Errorf("a writer open before the stop cannot write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitWriters(t, h, nil)
	s, err := h.Commit(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Files != 2 {
		t.Errorf("snapshot holds %d files, want 2 (done and d/open)", s.Files)
	}

	h.EndStop()
	if err := os.WriteFile(filepath.Join(mnt, "after"), nil, 0o644); err != nil {
		t.Errorf("creating a file after the stop was called off: %v", err)
	}
}
