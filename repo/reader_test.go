package repo

import (
	"bytes"
	"context"
	"testing"
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
