package chunker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// corpus is a source tree read into memory twice: as it is, and with 1% of
// its files edited (a short line inserted in the middle of each).
type corpus struct {
	names      []string
	orig, edit [][]byte
}

func loadCorpus(tb testing.TB, root string) *corpus {
	tb.Helper()
	c := &corpus{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c.names = append(c.names, path)
		c.orig = append(c.orig, b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for i, b := range c.orig {
		if i%100 != 37 {
			c.edit = append(c.edit, b)
			continue
		}
		at := len(b) / 2
		e := append([]byte{}, b[:at]...)
		e = append(e, "// edited by the dedup benchmark\n"...)
		c.edit = append(c.edit, append(e, b[at:]...))
	}
	return c
}

// tarStream returns the files as one tar archive with fixed metadata.
func tarStream(tb testing.TB, names []string, files [][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, b := range files {
		hdr := &tar.Header{Name: names[i], Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(1e9, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// chunkSet chunks each stream separately and returns the chunks by hash,
// with their lengths.
func chunkSet(c *Chunker, streams [][]byte) map[[32]byte]int {
	set := map[[32]byte]int{}
	for _, s := range streams {
		off := 0
		for _, l := range chunkLens(c, s, whole(s)) {
			set[sha256.Sum256(s[off:off+l])] = l
			off += l
		}
	}
	return set
}

// BenchmarkDedupGoSrc measures, for several chunk sizes, how much of a
// second backup of $GOROOT/src with 1% of files edited is already stored
// by the first: once with every file chunked on its own (how coffer stores
// a tree) and once as a single tar stream (how it stores one large
// archive). Run it with -benchtime=1x; docs/FORMAT.md ("Chunking") records the
// results.
func BenchmarkDedupGoSrc(b *testing.B) {
	c := loadCorpus(b, filepath.Join(runtime.GOROOT(), "src"))
	modes := []struct {
		name       string
		orig, edit [][]byte
	}{
		{"files", c.orig, c.edit},
		{"tar", [][]byte{tarStream(b, c.names, c.orig)}, [][]byte{tarStream(b, c.names, c.edit)}},
	}
	for _, p := range []Params{
		{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		{Min: 128 << 10, Avg: 512 << 10, Max: 2 << 20},
		{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20},
		{Min: 512 << 10, Avg: 2 << 20, Max: 8 << 20},
	} {
		for _, m := range modes {
			name := fmt.Sprintf("%s/avg=%dK", m.name, p.Avg>>10)
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					ch := NewTable(testSeed(0), p).New()
					first := chunkSet(ch, m.orig)
					second := chunkSet(ch, m.edit)
					newBytes, total, newBlocks := 0, 0, 0
					for h, l := range second {
						total += l
						if _, ok := first[h]; !ok {
							newBytes += l
							newBlocks++
						}
					}
					b.ReportMetric(float64(len(first)), "blocks")
					b.ReportMetric(float64(newBlocks), "new-blocks")
					b.ReportMetric(float64(newBytes)/1e6, "new-MB")
					b.ReportMetric(100*float64(newBytes)/float64(total), "new-%")
				}
			})
		}
	}
}
