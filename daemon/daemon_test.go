package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"coffer/repo"
)

// fakeServer is a mount that is busy while busy() says so.
type fakeServer struct {
	busy     func() bool
	mu       sync.Mutex
	gone     chan struct{}
	detached bool
}

func newFakeServer(busy func() bool) *fakeServer {
	return &fakeServer{busy: busy, gone: make(chan struct{})}
}

func (s *fakeServer) Unmount() error {
	if s.busy() {
		return syscall.EBUSY
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gone:
	default:
		close(s.gone)
	}
	return nil
}

func (s *fakeServer) Wait() { <-s.gone }

func (s *fakeServer) detach(string) error {
	s.mu.Lock()
	s.detached = true
	s.mu.Unlock()
	return nil
}

// fakeHead is a head with files open for writing until closed.
type fakeHead struct {
	mu       sync.Mutex
	open     []string
	stopping bool
	changed  bool
	version  uint64
	commits  [][]string // the files open at each commit
	base     string
	fail     error // what Commit returns, if set
}

func (h *fakeHead) Base() string    { h.mu.Lock(); defer h.mu.Unlock(); return h.base }
func (h *fakeHead) Changed() bool   { h.mu.Lock(); defer h.mu.Unlock(); return h.changed }
func (h *fakeHead) Version() uint64 { h.mu.Lock(); defer h.mu.Unlock(); return h.version }
func (h *fakeHead) BeginStop()      { h.mu.Lock(); h.stopping = true; h.mu.Unlock() }
func (h *fakeHead) EndStop()        { h.mu.Lock(); h.stopping = false; h.mu.Unlock() }
func (h *fakeHead) OpenWriters() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.open...)
}
func (h *fakeHead) Commit(ctx context.Context, tags []string) (*repo.Snapshot, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return nil, h.fail
	}
	h.commits = append(h.commits, append([]string(nil), h.open...))
	h.changed = len(h.open) > 0
	h.base = "s1"
	return &repo.Snapshot{ID: "s1"}, nil
}
func (h *fakeHead) Checkpoint(ctx context.Context) (*repo.Snapshot, error) {
	return &repo.Snapshot{}, nil
}

// closeAfter closes every open file after d.
func (h *fakeHead) closeAfter(d time.Duration) {
	time.AfterFunc(d, func() {
		h.mu.Lock()
		h.open = nil
		h.version++
		h.mu.Unlock()
	})
}

func (h *fakeHead) isStopping() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.stopping }

func (h *fakeHead) busy() bool { return len(h.OpenWriters()) > 0 }

type fixture struct {
	h   *fakeHead
	srv *fakeServer
	d   *Daemon
	cfg Config
}

func newFixture(t *testing.T, timeout time.Duration) *fixture {
	h := &fakeHead{open: []string{"/big.bin"}, changed: true, version: 1}
	srv := newFakeServer(h.busy)
	cfg := Config{Mountpoint: "/mnt", RunDir: t.TempDir(), Server: srv, Head: h, StopTimeout: timeout, Detach: srv.detach}
	return &fixture{h: h, srv: srv, d: New(cfg), cfg: cfg}
}

// run starts Run and returns a channel with its result.
func (f *fixture) run(ctx context.Context) <-chan error {
	out := make(chan error, 1)
	go func() { out <- f.d.Run(ctx) }()
	return out
}

func wait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// call retries until the control socket is up.
func call(t *testing.T, f *fixture, op string) Reply {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		r, err := Call(context.Background(), SocketPath(f.cfg.RunDir, f.cfg.Mountpoint), Request{Op: op})
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("control %s: %v", op, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignalStopWaitsForWriter(t *testing.T) {
	f := newFixture(t, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := f.run(ctx)
	call(t, f, "ping")
	f.h.closeAfter(300 * time.Millisecond)
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatalf("Run = %v, want nil: the writer closed within the bound", err)
	}
	if len(f.h.commits) != 1 || len(f.h.commits[0]) != 0 {
		t.Fatalf("commits saw open files %q; want one commit after the writer closed", f.h.commits)
	}
	if f.srv.detached {
		t.Error("detached lazily although the mount was free")
	}
}

func TestSignalStopPastTheBound(t *testing.T) {
	f := newFixture(t, 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := f.run(ctx)
	call(t, f, "ping")
	cancel()
	err := wait(t, done)
	if !errors.Is(err, ErrLeftOut) || !strings.Contains(err.Error(), "/big.bin") {
		t.Fatalf("Run = %v, want ErrLeftOut naming /big.bin", err)
	}
	if len(f.h.commits) != 1 {
		t.Fatalf("%d commits, want one of what was closed", len(f.h.commits))
	}
	if !f.srv.detached {
		t.Error("a busy mount was not detached at a signal's stop")
	}
}

func TestUmountPastTheBoundKeepsTheMount(t *testing.T) {
	f := newFixture(t, 200*time.Millisecond)
	done := f.run(context.Background())
	r := call(t, f, "umount")
	if r.Error == "" || !strings.Contains(r.Error, "/big.bin") || r.Code == 0 {
		t.Fatalf("umount with a file open past the bound = %+v; want an error naming it, with a code", r)
	}
	if f.h.isStopping() {
		t.Error("opens for writing still refused after a refused umount")
	}
	if len(f.h.commits) != 0 {
		t.Errorf("a refused umount committed %d times", len(f.h.commits))
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v after a refused umount", err)
	default:
	}
	f.h.closeAfter(0)
	if r := call(t, f, "umount"); r.Error != "" || !r.Created {
		t.Fatalf("umount after the writer closed = %+v", r)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("Run = %v after umount", err)
	}
}

func TestSnapshotMountUmount(t *testing.T) {
	srv := newFakeServer(func() bool { return false })
	cfg := Config{Mountpoint: "/mnt", RunDir: t.TempDir(), Server: srv, Detach: srv.detach}
	f := &fixture{srv: srv, d: New(cfg), cfg: cfg}
	done := f.run(context.Background())
	if r := call(t, f, "snapshot"); r.Error == "" {
		t.Error("snapshot of a read-only mount succeeded")
	}
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// failingCheckpoints cannot save (a full disk).
type failingCheckpoints struct{}

func (failingCheckpoints) Save(*repo.Snapshot) error {
	return fmt.Errorf("head checkpoint: %w", syscall.ENOSPC)
}
func (failingCheckpoints) Remove() error { return nil }

// TestCheckpointFailureIsLoud: a checkpoint that cannot be saved is an
// error in the log at every attempt, not a warning once.
func TestCheckpointFailureIsLoud(t *testing.T) {
	var log syncBuffer
	h := &fakeHead{changed: true, version: 1}
	srv := newFakeServer(h.busy)
	cfg := Config{Mountpoint: "/mnt", RunDir: t.TempDir(), Server: srv, Head: h, Detach: srv.detach,
		Checkpoints: failingCheckpoints{}, CheckpointEvery: 20 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&log, nil))}
	d := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(log.String(), "level=ERROR msg=\"head checkpoint not saved") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint failures not logged as errors at every attempt:\n%s", log.String())
		}
		h.mu.Lock()
		h.version++ // the head keeps changing
		h.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadyOnlyOnceTheSocketListens: the "mounted" line (Ready) comes
// only when a client can already reach the daemon, so `coffer snapshot`
// right after it never finds no daemon (seen once in the e2e tests).
func TestReadyOnlyOnceTheSocketListens(t *testing.T) {
	srv := newFakeServer(func() bool { return false })
	runDir := t.TempDir()
	reached := make(chan error, 1)
	cfg := Config{Mountpoint: "/mnt", RunDir: runDir, Server: srv, Detach: srv.detach}
	cfg.Ready = func() {
		_, err := Call(context.Background(), SocketPath(runDir, "/mnt"), Request{Op: "ping"})
		reached <- err
	}
	f := &fixture{srv: srv, d: New(cfg), cfg: cfg}
	done := f.run(context.Background())
	if err := <-reached; err != nil {
		t.Fatalf("at Ready the control socket did not answer: %v", err)
	}
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}
