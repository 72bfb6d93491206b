package chunker

import "testing"

// FuzzScan feeds arbitrary data in arbitrary pieces, with small sizes so
// that the fuzzer reaches every phase, and checks that Scan never panics,
// respects Min and Max, and finds the same boundaries as one whole call.
func FuzzScan(f *testing.F) {
	f.Add([]byte("hello, world"), []byte{1, 2, 3}, uint8(0))
	f.Add(make([]byte, 1000), []byte{255}, uint8(7))
	f.Add(randBytes(4096, 1), []byte{0, 13, 200, 64}, uint8(31))
	p := Params{Min: 64, Avg: 128, Max: 300}
	f.Fuzz(func(t *testing.T, data, splits []byte, seedByte uint8) {
		c := NewTable(testSeed(seedByte), p).New()
		k := 0
		next := func() int {
			if len(splits) == 0 {
				return len(data)
			}
			k++
			return int(splits[k%len(splits)])
		}
		lens := chunkLens(c, data, next)
		checkBounds(t, p, lens)
		if sum(lens) != len(data) {
			t.Fatalf("lengths sum to %d, want %d", sum(lens), len(data))
		}
		if want := chunkLens(c, data, whole(data)); !equalInts(lens, want) {
			t.Fatalf("split feeding gave %v, whole gave %v", lens, want)
		}
	})
}
