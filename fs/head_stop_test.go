package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"coffer/fs"
)

// waitWriters polls OpenWriters until it equals want: a release reaches
// the daemon shortly after close(2) returns.
func waitWriters(t *testing.T, h *fs.Head, want []string) {
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
	m := newTestStore(t).mountHead(t, fs.HeadOptions{})
	h, mnt := m.h, m.dir
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
