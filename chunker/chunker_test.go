package chunker

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"syscall"
	"testing"
)

// testParams are small sizes so that tests see many chunks quickly.
var testParams = Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}

func testSeed(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

// randBytes returns n bytes from splitmix64 seeded with seed. The generator
// is written out here so that golden vectors never depend on a library's
// random stream.
func randBytes(n int, seed uint64) []byte {
	buf := make([]byte, n+8)
	x := seed
	for i := 0; i < n; i += 8 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(buf[i:], z^z>>31)
	}
	return buf[:n]
}

// chunkLens chunks data, feeding it in pieces whose sizes next returns, and
// returns the chunk lengths, the last one possibly short.
func chunkLens(c *Chunker, data []byte, next func() int) []int {
	var lens []int
	c.Reset()
	for len(data) > 0 {
		piece := data[:min(len(data), max(1, next()))]
		data = data[len(piece):]
		for len(piece) > 0 {
			n, cut := c.Scan(piece)
			piece = piece[n:]
			if cut {
				lens = append(lens, c.Len())
				c.Reset()
			}
		}
	}
	if c.Len() > 0 {
		lens = append(lens, c.Len())
	}
	return lens
}

func whole(data []byte) func() int { return func() int { return len(data) } }

func TestSplitsAgree(t *testing.T) {
	data := randBytes(1<<20, 1)
	c := NewTable(testSeed(0), testParams).New()
	want := chunkLens(c, data, whole(data))
	rng := rand.New(rand.NewPCG(1, 2))
	splits := map[string]func() int{
		"one byte":  func() int { return 1 },
		"random":    func() int { return rng.IntN(20000) },
		"small":     func() int { return rng.IntN(100) },
		"power2-4k": func() int { return 4096 },
	}
	for name, next := range splits {
		t.Run(name, func(t *testing.T) {
			got := chunkLens(c, data, next)
			if !equalInts(got, want) {
				t.Fatalf("boundaries differ: %d chunks vs %d", len(got), len(want))
			}
		})
	}
}

func TestBounds(t *testing.T) {
	for _, p := range []Params{testParams, {Min: 64, Avg: 128, Max: 129}, {Min: 100, Avg: 4096, Max: 5000}} {
		c := NewTable(testSeed(3), p).New()
		for _, data := range [][]byte{
			randBytes(1<<20, 7),
			make([]byte, 1<<20),                     // zeros: every chunk is Max
			bytes.Repeat([]byte("abcdefg"), 100000), // periodic
		} {
			lens := chunkLens(c, data, whole(data))
			checkBounds(t, p, lens)
			if sum(lens) != len(data) {
				t.Fatalf("lengths sum to %d, want %d", sum(lens), len(data))
			}
		}
	}
}

func checkBounds(t *testing.T, p Params, lens []int) {
	t.Helper()
	for i, l := range lens {
		if l > p.Max || (l < p.Min && i != len(lens)-1) {
			t.Fatalf("%+v: chunk %d of %d has length %d", p, i, len(lens), l)
		}
	}
}

func TestSeedsDiffer(t *testing.T) {
	data := randBytes(1<<20, 9)
	a := chunkLens(NewTable(testSeed(0), testParams).New(), data, whole(data))
	b := chunkLens(NewTable(testSeed(1), testParams).New(), data, whole(data))
	if equalInts(a, b) {
		t.Fatal("two seeds gave the same boundaries")
	}
	// Boundaries at the same offsets would reveal content; a few
	// coincidences are expected, most must differ.
	common := len(intersect(offsets(a), offsets(b)))
	if common > len(a)/10 {
		t.Fatalf("%d of %d boundaries shared between seeds", common, len(a))
	}
}

func TestMeanSize(t *testing.T) {
	for _, p := range []Params{testParams, {Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, DefaultParams()} {
		n := 2000 * p.Avg
		n = min(n, 128<<20)
		data := randBytes(n, 11)
		lens := chunkLens(NewTable(testSeed(5), p).New(), data, whole(data))
		mean := float64(sum(lens)) / float64(len(lens))
		t.Logf("%+v: %d chunks, mean %.0f (%.3f of Avg)", p, len(lens), mean, mean/float64(p.Avg))
		if mean < 0.75*float64(p.Avg) || mean > 1.25*float64(p.Avg) {
			t.Errorf("%+v: mean chunk size %.0f not within 25%% of %d", p, mean, p.Avg)
		}
	}
}

func TestResync(t *testing.T) {
	p := DefaultParams()
	data := randBytes(64<<20, 13)
	c := NewTable(testSeed(7), p).New()
	orig := chunkLens(c, data, whole(data))
	for _, edit := range []struct {
		name string
		at   int
		ins  []byte
		del  int
	}{
		{"insert 5 at 1000", 1000, []byte("hello"), 0},
		{"insert 3 at 300k", 300 << 10, []byte{1, 2, 3}, 0},
		{"delete 7 at 4096", 4096, nil, 7},
	} {
		t.Run(edit.name, func(t *testing.T) {
			mod := append([]byte{}, data[:edit.at]...)
			mod = append(mod, edit.ins...)
			mod = append(mod, data[edit.at+edit.del:]...)
			got := chunkLens(c, mod, whole(mod))
			changed := len(difference(got, orig))
			t.Logf("%d of %d chunks changed", changed, len(got))
			if changed > 2 {
				t.Fatalf("%d chunks changed, want at most 2", changed)
			}
		})
	}
}

// difference returns the chunks of a, as (offset, length) pairs, that are
// not chunks of b.
func difference(a, b []int) [][2]int {
	in := map[[2]int]bool{}
	off := 0
	for _, l := range b {
		in[[2]int{off, l}] = true
		off += l
	}
	// Compare chunks by content position relative to the stream end, which
	// is where the streams agree after an edit near the start.
	shift := sum(b) - sum(a)
	var out [][2]int
	off = 0
	for _, l := range a {
		if !in[[2]int{off + shift, l}] {
			out = append(out, [2]int{off, l})
		}
		off += l
	}
	return out
}

func offsets(lens []int) []int {
	var out []int
	off := 0
	for _, l := range lens {
		off += l
		out = append(out, off)
	}
	return out
}

func intersect(a, b []int) []int {
	in := map[int]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []int
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Params
		ok bool
	}{
		{DefaultParams(), true},
		{testParams, true},
		{Params{Min: 64, Avg: 128, Max: 129}, true},
		{Params{Min: 63, Avg: 128, Max: 256}, false},
		{Params{Min: 128, Avg: 128, Max: 256}, false},
		{Params{Min: 64, Avg: 100, Max: 256}, false},
		{Params{Min: 64, Avg: 128, Max: 128}, false},
		{Params{Min: 64, Avg: 128, Max: MaximumMax + 1}, false},
		{Params{}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

// BenchmarkScan reports throughput on 64 MiB of random data with the
// default sizes. Besides the usual wall-clock MB/s it reports cpu-MB/s,
// bytes per second of process CPU time, which stays meaningful on a machine
// busy with other work.
func BenchmarkScan(b *testing.B) {
	data := randBytes(64<<20, 17)
	c := NewTable(testSeed(0), DefaultParams()).New()
	b.SetBytes(int64(len(data)))
	cpu0 := cpuSeconds(b)
	b.ResetTimer()
	rounds := 0
	for b.Loop() {
		rounds++
		c.Reset()
		buf := data
		for len(buf) > 0 {
			n, cut := c.Scan(buf)
			buf = buf[n:]
			if cut {
				c.Reset()
			}
		}
	}
	b.ReportMetric(float64(rounds*len(data))/(cpuSeconds(b)-cpu0)/1e6, "cpu-MB/s")
}

func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// refLens is the chunking rule written out plainly, one byte at a time,
// with none of Scan's phases or lanes: the reference Scan must agree with.
func refLens(seed [32]byte, p Params, data []byte) []int {
	var gear [256]uint64
	fillGear(&gear, seed)
	strict, loose := p.masks()
	var lens []int
	for len(data) > 0 {
		var fp uint64
		n := len(data)
		for i, b := range data {
			if i >= p.Min-64 {
				fp = fp<<1 + gear[b]
			}
			size := i + 1
			if size == p.Max ||
				(size >= p.Min && size < p.Avg && fp&strict == 0) ||
				(size >= p.Avg && fp&loose == 0) {
				n = size
				break
			}
		}
		lens = append(lens, n)
		data = data[n:]
	}
	return lens
}

// TestMatchesReference checks Scan's boundaries against refLens for sizes
// where the lanes of hashFind see whole blocks in both phases, on random
// data and on data with many early boundaries, fed whole and in pieces.
func TestMatchesReference(t *testing.T) {
	for _, p := range []Params{
		DefaultParams(),
		{Min: 64 << 10, Avg: 256 << 10, Max: 1 << 20},
		{Min: 4 << 10, Avg: 64 << 10, Max: 256 << 10},
		testParams,
	} {
		for name, data := range map[string][]byte{
			"random":   randBytes(48<<20, 21),
			"periodic": bytes.Repeat(randBytes(997, 5), 8<<10),
		} {
			seed := testSeed(9)
			want := refLens(seed, p, data)
			rng := rand.New(rand.NewPCG(3, 4))
			for split, next := range map[string]func() int{
				"whole":  whole(data),
				"1 MiB":  func() int { return 1 << 20 },
				"random": func() int { return rng.IntN(100 << 10) },
			} {
				if got := chunkLens(NewTable(seed, p).New(), data, next); !equalInts(got, want) {
					t.Errorf("%+v, %s data fed %s: %d chunks, reference %d", p, name, split, len(got), len(want))
				}
			}
		}
	}
}
