package repo

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/memory"
)

var testKDF = cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}

// testRepo creates and opens a repository over a memory store, with small
// chunks so tests exercise many blocks.
func testRepo(t *testing.T) *Repository {
	t.Helper()
	ctx := context.Background()
	st := memory.New(time.Now)
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	_, err := Init(ctx, st, secret, InitOptions{
		Chunker:   chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Retention: Policy{Days: 1},
		Now:       time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// localRepo creates and opens a repository in a local store in a temporary
// directory, unlocked by pass, and returns it with the directory.
func localRepo(t *testing.T, pass string) (*Repository, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := local.New(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret := Secret{Passphrase: []byte(pass), KDF: testKDF}
	if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, dir
}

// writeFile stores data as one file and flushes it.
func writeFile(t *testing.T, r *Repository, data []byte) []BlockRef {
	t.Helper()
	ctx := context.Background()
	w := r.NewFileWriter()
	if err := w.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	refs, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return refs
}

func randBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func readAll(t *testing.T, r *Repository, refs []BlockRef) []byte {
	t.Helper()
	fr := r.NewFileReader(refs)
	out := make([]byte, fr.Size())
	n, err := fr.ReadAt(context.Background(), out, 0)
	if err != nil || int64(n) != fr.Size() {
		t.Fatalf("read %d of %d: %v", n, fr.Size(), err)
	}
	return out
}

func TestInitOpen(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	secret := Secret{Passphrase: []byte("right"), KDF: testKDF}
	if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second init: %v, want ErrNotEmpty", err)
	}
	if _, err := Open(ctx, st, Secret{Passphrase: []byte("wrong")}, Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open(ctx, memory.New(time.Now), secret, Options{}); !errors.Is(err, ErrNotRepository) {
		t.Fatalf("empty store: %v", err)
	}
	r, err := Open(ctx, st, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestWriterPatterns(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data := randBytes(1, 3<<20+17)
	cases := []struct {
		name  string
		write func(w *FileWriter) []byte // returns the expected contents
	}{
		{"sequential", func(w *FileWriter) []byte {
			for off := 0; off < len(data); off += 100 << 10 {
				_ = w.WriteAt(ctx, data[off:min(len(data), off+100<<10)], int64(off))
			}
			return data
		}},
		{"header patched last", func(w *FileWriter) []byte {
			_ = w.WriteAt(ctx, make([]byte, 4096), 0)
			_ = w.WriteAt(ctx, data[4096:], 4096)
			_ = w.WriteAt(ctx, data[:4096], 0)
			return data
		}},
		{"shuffled pieces", func(w *FileWriter) []byte {
			const piece = 64 << 10
			order := rand.New(rand.NewPCG(7, 7)).Perm((len(data) + piece - 1) / piece)
			for _, i := range order {
				off := i * piece
				_ = w.WriteAt(ctx, data[off:min(len(data), off+piece)], int64(off))
			}
			return data
		}},
		{"sparse", func(w *FileWriter) []byte {
			_ = w.WriteAt(ctx, []byte{1}, 1<<20)
			want := make([]byte, 1<<20+1)
			want[1<<20] = 1
			return want
		}},
		{"truncate", func(w *FileWriter) []byte {
			_ = w.WriteAt(ctx, data, 0)
			_ = w.Truncate(ctx, 1000)
			_ = w.WriteAt(ctx, []byte("tail"), 1000)
			return append(append([]byte(nil), data[:1000]...), "tail"...)
		}},
		{"empty", func(w *FileWriter) []byte { return []byte{} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := r.NewFileWriter()
			want := c.write(w)
			got := make([]byte, w.Size())
			if n, err := w.ReadAt(ctx, got, 0); err != nil || n != len(want) {
				t.Fatalf("read while open: n=%d want %d err=%v", n, len(want), err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("read while open: contents differ")
			}
			refs, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, r, refs); !bytes.Equal(got, want) {
				t.Fatal("read after close: contents differ")
			}
		})
	}
}

func TestDedupAndReopen(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data := randBytes(2, 2<<20)
	a := writeFile(t, r, data)
	before := countObjects(t, r)
	b := writeFile(t, r, data)
	if after := countObjects(t, r); after != before {
		t.Fatalf("identical file stored again: %d objects, then %d", before, after)
	}
	if len(a) != len(b) || a[0] != b[0] {
		t.Fatal("identical contents gave different blocks")
	}
	tree := &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Mode: 0644, Size: uint64(len(data)), Blocks: a}}}
	id, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{Time: time.Now(), Tree: id, Files: 1, Size: uint64(len(data))}
	if err := r.SaveSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	// A second process opens the repository and reads the snapshot.
	r2, err := Open(ctx, r.store, Secret{Passphrase: []byte("pw")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	s, err := r2.FindSnapshot(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r2.LoadTree(ctx, s.Tree)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, r2, got.Nodes[0].Blocks), data) {
		t.Fatal("snapshot contents differ")
	}
}

func countObjects(t *testing.T, r *Repository) int {
	n := 0
	for _, p := range []string{dataPrefix} {
		_ = r.store.List(context.Background(), p, func(objectstore.Info) error { n++; return nil })
	}
	return n
}
