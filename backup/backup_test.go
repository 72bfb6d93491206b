package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/backup"
	"coffer/chunker"
	"coffer/objectstore"
	"coffer/objectstore/memory"
	"coffer/repo"
	"coffer/restore"
)

// puts counts what the store receives, by key prefix.
type puts struct {
	objectstore.Store
	mu   sync.Mutex
	keys []string
}

func (p *puts) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	p.mu.Lock()
	p.keys = append(p.keys, key)
	p.mu.Unlock()
	return p.Store.Put(ctx, key, data, ret)
}

// take returns the keys put since the last call, but snapshots.
func (p *puts) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, k := range p.keys {
		if !strings.HasPrefix(k, "snapshots/") {
			out = append(out, k)
		}
	}
	p.keys = nil
	return out
}

func newRepo(t *testing.T) (*repo.Repository, *puts) {
	t.Helper()
	var p *puts
	r := repoOver(t, func(st objectstore.Store) objectstore.Store { p = &puts{Store: st}; return p })
	return r, p
}

// repoOver is a new repository over a memory store wrapped by wrap, with
// small chunks and packs so small files span blocks and packs.
func repoOver(t *testing.T, wrap func(objectstore.Store) objectstore.Store) *repo.Repository {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	st := memory.New(time.Now)
	secret := repo.Secret{KeyFile: key}
	if _, err := repo.Init(context.Background(), st, secret, repo.InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, Now: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), wrap(st), secret, repo.Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sourceTree makes a tree with every kind of entry but devices.
func sourceTree(t *testing.T) (string, int64) {
	src := t.TempDir()
	big := make([]byte, 700<<10)
	_, _ = rand.Read(big)
	write(t, filepath.Join(src, "big"), big)
	write(t, filepath.Join(src, "a/b/small"), []byte("hello"))
	write(t, filepath.Join(src, "a/empty"), nil)
	write(t, filepath.Join(src, "skip.log"), []byte("excluded"))
	must(t, os.Link(filepath.Join(src, "a/b/small"), filepath.Join(src, "hard")))
	must(t, os.Symlink("a/b/small", filepath.Join(src, "link")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	must(t, os.Mkdir(filepath.Join(src, "emptydir"), 0o700))
	return src, int64(len(big)) + 5
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, r *repo.Repository, src string) *backup.Summary {
	t.Helper()
	ex, err := restore.NewFilter(nil, []string{"*.log"})
	must(t, err)
	sum, err := backup.Run(context.Background(), r, []string{src}, backup.Options{Host: "h", Exclude: ex,
		OnError: func(p string, err error) { t.Errorf("%s: %v", p, err) }})
	must(t, err)
	return sum
}

func TestBackupRoundTripAndUnchangedRerun(t *testing.T) {
	ctx := context.Background()
	r, p := newRepo(t)
	src, size := sourceTree(t)

	first := run(t, r, src)
	if first.BytesRead != size || first.New != 4 || first.Unchanged != 0 || first.Files != 4 || first.Parent != "" {
		t.Fatalf("first backup: %+v; want 4 new files (one read once for two names), %d bytes read", first, size)
	}
	s := first.Snapshot
	for path, check := range map[string]func(repo.Node) bool{
		"/big":       func(n repo.Node) bool { return n.Type == repo.TypeFile && n.Size == 700<<10 && n.SrcIno != 0 },
		"/a/b/small": func(n repo.Node) bool { return n.Link != 0 && n.Size == 5 },
		"/hard":      func(n repo.Node) bool { return n.Link != 0 && n.Size == 5 },
		"/link":      func(n repo.Node) bool { return n.Type == repo.TypeSymlink && n.Target == "a/b/small" },
		"/fifo":      func(n repo.Node) bool { return n.Type == repo.TypeFIFO && n.Mode == 0o640 },
		"/emptydir":  func(n repo.Node) bool { return n.Type == repo.TypeDir && n.Mode == 0o700 },
		"/a/empty":   func(n repo.Node) bool { return n.Type == repo.TypeFile && n.Size == 0 },
	} {
		n, err := r.LookupPath(ctx, s, path)
		if err != nil || !check(n) {
			t.Errorf("%s in the snapshot: %+v (%v)", path, n, err)
		}
	}
	if _, err := r.LookupPath(ctx, s, "/skip.log"); err == nil {
		t.Error("/skip.log was backed up despite --exclude '*.log'")
	}
	lt, err := r.LoadLinks(ctx, s.Links)
	small, _ := r.LookupPath(ctx, s, "/a/b/small")
	if err != nil || len(lt) != 1 || lt[small.Link] != 2 {
		t.Errorf("link table %v (%v); want the one link with 2 names", lt, err)
	}
	data := readBack(t, r, small)
	if string(data) != "hello" {
		t.Errorf("/a/b/small reads back %q", data)
	}
	p.take()

	// Unchanged: nothing is read, nothing but the snapshot is stored,
	// and the trees are the same.
	again := run(t, r, src)
	if again.BytesRead != 0 || again.Unchanged != 4 || again.New+again.Changed != 0 || again.Parent != s.ID {
		t.Errorf("unchanged re-run: %+v; want nothing read, 4 unchanged, parent %s", again, s.ID)
	}
	if again.Snapshot.Tree != s.Tree || again.Snapshot.Links != s.Links {
		t.Errorf("unchanged re-run has tree %s links %s, want %s %s", again.Snapshot.Tree, again.Snapshot.Links, s.Tree, s.Links)
	}
	if got := p.take(); len(got) != 0 {
		t.Errorf("unchanged re-run stored %v; want only the snapshot (and audit/ledger records)", got)
	}

	// One file changed: only it is read.
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(src, "a/empty"), []byte("now seven"))
	third := run(t, r, src)
	if third.BytesRead != 9 || third.Changed != 1 || third.Unchanged != 3 {
		t.Errorf("after changing one file: %+v; want 9 bytes read, 1 changed, 3 unchanged", third)
	}
	n, err := r.LookupPath(ctx, third.Snapshot, "/a/empty")
	if err != nil || string(readBack(t, r, n)) != "now seven" {
		t.Errorf("/a/empty after the change: %+v (%v)", n, err)
	}
}

func readBack(t *testing.T, r *repo.Repository, n repo.Node) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, b := range n.Blocks {
		data, err := r.ReadBlock(context.Background(), repo.DataBlock, b.ID)
		must(t, err)
		out.Write(data)
	}
	return out.Bytes()
}
