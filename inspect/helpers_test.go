package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore/memory"
	"coffer/repo"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// link and dev mark a symlink and a character device in a tree spec.
type (
	link string
	dev  uint64
)

// spec describes a directory: a name maps to a file's contents (string),
// a symlink (link), a device (dev) or a subdirectory (spec).
type spec map[string]any

// testRepo is a repository over a memory store whose chunks are large
// enough that every test file is one block, so sizes are the same on
// every run whatever the random key.
func testRepo(t testing.TB) (*repo.Repository, *memory.Store) {
	t.Helper()
	ctx := context.Background()
	st := memory.New(time.Now)
	secret := repo.Secret{Passphrase: []byte("pw"), KDF: cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}}
	if _, err := repo.Init(ctx, st, secret, repo.InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, Now: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, secret, repo.Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, st
}

// saveDir stores the tree of sp and returns its ID, file count and bytes.
func saveDir(t testing.TB, r *repo.Repository, sp spec) (cipher.ID, uint64, uint64) {
	t.Helper()
	ctx := context.Background()
	tr := &repo.Tree{}
	var files, size uint64
	for name, v := range sp {
		n := repo.Node{Name: name, Mode: 0o644, UID: 1000, GID: 1000, Mtime: t0.UnixNano(), Atime: t0.UnixNano(), Ctime: t0.UnixNano()}
		switch v := v.(type) {
		case string:
			n.Type = repo.TypeFile
			w := r.NewFileWriter()
			if err := w.WriteAt(ctx, []byte(v), 0); err != nil {
				t.Fatal(err)
			}
			blocks, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n.Blocks, n.Size = blocks, uint64(len(v))
			files++
			size += n.Size
		case link:
			n.Type, n.Target, n.Mode = repo.TypeSymlink, string(v), 0o777
		case dev:
			n.Type, n.Rdev = repo.TypeChar, uint64(v)
		case spec:
			n.Type, n.Mode = repo.TypeDir, 0o755
			n.Subtree, n.Files, n.Bytes = saveDir(t, r, v)
			files += n.Files
			size += n.Bytes
		case repo.Node: // a node given whole
			n = v
			n.Name = name
		default:
			t.Fatalf("bad spec value %T", v)
		}
		tr.Nodes = append(tr.Nodes, n)
	}
	id, err := r.SaveTree(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	return id, files, size
}

// commit stores sp as a snapshot made at at.
func commit(t testing.TB, r *repo.Repository, sp spec, at time.Time, parent *repo.Snapshot, tags ...string) *repo.Snapshot {
	t.Helper()
	id, files, size := saveDir(t, r, sp)
	s := &repo.Snapshot{Time: at, Host: "db1", Tags: tags, Tree: id, Files: files, Size: size,
		Root: repo.Node{Type: repo.TypeDir, Mode: 0o755, Mtime: at.UnixNano()}}
	if parent != nil {
		s.Parent = parent.ID
	}
	if err := r.SaveSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// jsonLines encodes each value as one line.
func jsonLines(t *testing.T, vs ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}
