package fs_test

// In-process FUSE tests: a Head over a repository on the memory store is
// mounted in a temporary directory and driven with plain syscalls from the
// test's goroutines, under -race, like go-fuse's own newTestCase. The test
// process serves the mount, so nothing here forks a process that touches
// it (go-fuse warns that this can deadlock).

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/chunker"
	"coffer/fs"
	"coffer/objectstore/memory"
	"coffer/repo"
)

// testStore is one repository in a memory store, which several mounts in
// turn (daemons, one after another) can open.
type testStore struct {
	st     *memory.Store
	secret repo.Secret
}

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := &testStore{st: memory.New(time.Now), secret: repo.Secret{KeyFile: key}}
	_, err := repo.Init(context.Background(), s.st, s.secret, repo.InitOptions{
		// Small chunks and packs: even small test files span blocks.
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Now:     time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens the repository as a new daemon would.
func (s *testStore) open(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), s.st, s.secret, repo.Options{PackSize: 256 << 10, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// mount is one head (or snapshot) mount served by this process.
type mount struct {
	t   *testing.T
	dir string
	r   *repo.Repository
	h   *fs.Head // nil for a snapshot mount
	srv *fuse.Server
}

// testHost is the host every test head runs on.
const testHost = "inproc-test"

// mountHead opens the repository and mounts its head with the options
// coffer's mount command uses.
func (s *testStore) mountHead(t *testing.T, o fs.HeadOptions) *mount {
	t.Helper()
	r := s.open(t)
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	if o.Host == "" {
		o.Host = testHost // one machine: each head continues this host's latest snapshot
	}
	h, err := fs.NewHead(context.Background(), r, o)
	if err != nil {
		t.Fatal(err)
	}
	cacheFor := time.Minute // as coffer mount: every change passes through the kernel
	return serve(t, r, h, h.Root(), &cacheFor, false)
}

// mountSnapshot mounts one snapshot read-only, as `coffer mount --snapshot`.
func (s *testStore) mountSnapshot(t *testing.T, snap *repo.Snapshot) *mount {
	t.Helper()
	r := s.open(t)
	hour := time.Hour
	return serve(t, r, nil, fs.NewSnapshotRoot(r, testLogger(), snap), &hour, true)
}

func serve(t *testing.T, r *repo.Repository, h *fs.Head, root fusefs.InodeEmbedder, cacheFor *time.Duration, ro bool) *mount {
	t.Helper()
	dir := t.TempDir()
	opts := &fusefs.Options{
		MountOptions: fuse.MountOptions{
			FsName: "coffer-test", Name: "coffer",
			MaxWrite: 1 << 20, MaxReadAhead: 1 << 20,
			DirectMount: true, DisableSplice: true,
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC,
			EnableAcl:         true, EnableSymlinkCaching: true,
			Debug: os.Getenv("COFFER_FUSE_DEBUG") != "",
		},
		NullPermissions: true,
		EntryTimeout:    cacheFor, AttrTimeout: cacheFor, NegativeTimeout: cacheFor,
	}
	if ro {
		opts.Options = append(opts.Options, "ro")
		opts.NegativeTimeout = nil
	}
	srv, err := fusefs.Mount(dir, root, opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	m := &mount{t: t, dir: dir, r: r, h: h, srv: srv}
	t.Cleanup(m.unmount)
	return m
}

// unmount unmounts without committing, as a daemon killed after its last
// checkpoint; it may be called more than once.
func (m *mount) unmount() {
	if m.srv == nil {
		return
	}
	var err error
	for range 50 {
		if err = m.srv.Unmount(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // a release still on its way
	}
	if err != nil {
		m.t.Errorf("unmount %s: %v", m.dir, err)
		_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
	}
	m.srv = nil
}

// path names a file in the mount.
func (m *mount) path(rel ...string) string {
	return filepath.Join(append([]string{m.dir}, rel...)...)
}

// commit commits the head and returns the snapshot and the name under
// which .snapshots shows it (read through the mount, as a user would).
func (m *mount) commit() (*repo.Snapshot, string) {
	m.t.Helper()
	s, err := m.h.Commit(context.Background(), nil)
	if err != nil {
		m.t.Fatalf("commit: %v", err)
	}
	// The kernel keeps the "latest" entry for up to one clock tick (its
	// shortest timeout), so a read at once may still see the one before.
	time.Sleep(15 * time.Millisecond)
	name, err := os.Readlink(m.path(fs.SnapshotsName, "latest"))
	if err != nil {
		m.t.Fatalf("readlink .snapshots/latest: %v", err)
	}
	return s, name
}

// snapPath names a file in a snapshot under .snapshots.
func (m *mount) snapPath(name string, rel ...string) string {
	return m.path(append([]string{fs.SnapshotsName, name}, rel...)...)
}

// writeFile creates path with data and mode through the mount.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// readFile returns path's bytes.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErrno fails unless err is errno.
func wantErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got %v, want %v", what, err, errno)
	}
}
