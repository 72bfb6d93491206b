package repo

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"coffer/cache"
	"coffer/cipher"
	"coffer/objectstore"
)

// TestFileReaderSlices: Slices gives the bytes of any range, across block
// boundaries and cut at the end of file, as ReadAt does, without copies.
func TestFileReaderSlices(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data := randBytes(7, 1<<20+12345)
	refs := writeFile(t, r, data)
	if len(refs) < 4 {
		t.Fatalf("only %d blocks", len(refs))
	}
	fr := r.NewFileReader(refs)
	size := int64(len(data))
	first := int64(refs[0].Len)
	cases := []struct{ off, n int64 }{
		{0, 0}, {0, 1}, {0, first}, {0, first + 1}, {first - 1, 2}, {first, first},
		{5, 3 * first}, {0, size}, {size - 10, 100}, {size, 10}, {size + 1, 10}, {1000, 256 << 10},
	}
	for _, c := range cases {
		parts, err := fr.Slices(ctx, c.off, int(c.n))
		if err != nil {
			t.Fatalf("Slices(%d, %d): %v", c.off, c.n, err)
		}
		want := data[min(c.off, size):min(c.off+c.n, size)]
		if got := bytes.Join(parts, nil); !bytes.Equal(got, want) {
			t.Fatalf("Slices(%d, %d): %d bytes in %d slices, want %d bytes", c.off, c.n, len(got), len(parts), len(want))
		}
		for _, p := range parts {
			if len(p) == 0 {
				t.Fatalf("Slices(%d, %d): an empty slice", c.off, c.n)
			}
		}
		buf := make([]byte, c.n)
		k, err := fr.ReadAt(ctx, buf, c.off)
		if err != nil || !bytes.Equal(buf[:k], want) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v, or wrong bytes", c.off, c.n, k, err)
		}
	}
}

// TestReadAheadBounded: a sequential read prefetches the blocks ahead in
// parallel, but never more of them at once than prefetchers() (and the
// one the reader waits for).
func TestReadAheadBounded(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data := randBytes(8, 3<<20)
	refs := writeFile(t, r, data)
	g := &gaugeStore{Store: r.fv.Store}
	r.fv.Store = g
	r.blocks = cache.NewBlockCache[cipher.ID](64 << 20) // cold
	fr := r.NewFileReader(refs)
	got := make([]byte, 0, len(data))
	buf := make([]byte, 16<<10)
	for off := int64(0); off < int64(len(data)); {
		k, err := fr.ReadAt(ctx, buf, off)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:k]...)
		off += int64(k)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	g.mu.Lock()
	most := g.most
	g.mu.Unlock()
	if most < 2 || most > prefetchers()+1 {
		t.Errorf("%d ranged reads at once, want 2 to %d", most, prefetchers()+1)
	}
}

// gaugeStore makes each ranged read take a while and records how many
// ran at once.
type gaugeStore struct {
	objectstore.Store
	mu   sync.Mutex
	now  int // guarded by mu
	most int // guarded by mu
}

func (g *gaugeStore) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	g.mu.Lock()
	g.now++
	g.most = max(g.most, g.now)
	g.mu.Unlock()
	time.Sleep(2 * time.Millisecond)
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	return g.Store.GetRange(ctx, key, off, length)
}
