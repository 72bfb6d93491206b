package chunker

import (
	"errors"
	"fmt"
	"math/bits"
)

// Bounds on Params that Validate enforces.
const (
	// MinimumMin is the smallest allowed Params.Min. The gear hash looks at
	// the last 64 bytes, and hashing starts 64 bytes before Min so that the
	// first boundary test already sees a full window.
	MinimumMin = 64
	// MaximumMax is the largest allowed Params.Max (1 GiB).
	MaximumMax = 1 << 30
)

// ErrParams is returned (wrapped) by Params.Validate for unusable sizes.
var ErrParams = errors.New("chunker: invalid params")

// Params are the chunk size bounds, in bytes. Every chunk except the last
// of a stream is at least Min and at most Max bytes long; on random data
// the mean chunk size is close to Avg.
type Params struct {
	Min, Avg, Max int
}

// DefaultParams returns the sizes coffer writes with: Min 256 KiB, Avg
// 1 MiB, Max 4 MiB. docs/FORMAT.md ("Chunking") records the measurements behind
// the choice.
func DefaultParams() Params {
	return Params{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20}
}

// Validate reports whether p can be used: Avg is a power of two and
// MinimumMin <= Min < Avg < Max <= MaximumMax.
func (p Params) Validate() error {
	switch {
	case p.Min < MinimumMin:
		return fmt.Errorf("%w: Min %d below %d", ErrParams, p.Min, MinimumMin)
	case p.Avg <= p.Min:
		return fmt.Errorf("%w: Avg %d not above Min %d", ErrParams, p.Avg, p.Min)
	case p.Max <= p.Avg:
		return fmt.Errorf("%w: Max %d not above Avg %d", ErrParams, p.Max, p.Avg)
	case p.Max > MaximumMax:
		return fmt.Errorf("%w: Max %d above %d", ErrParams, p.Max, MaximumMax)
	case bits.OnesCount(uint(p.Avg)) != 1:
		return fmt.Errorf("%w: Avg %d not a power of two", ErrParams, p.Avg)
	}
	return nil
}

// normLevel is FastCDC's normalization level: before Avg the boundary test
// needs normLevel more zero bits than log2(Avg), after Avg normLevel fewer.
// Part of the format: changing it moves every boundary.
const normLevel = 2

// masks returns the strict mask used below Avg and the loose one used from
// Avg on. Both select the top bits of the gear hash, the bits that depend on
// the most input bytes.
func (p Params) masks() (strict, loose uint64) {
	b := bits.TrailingZeros(uint(p.Avg))
	return topBits(b + normLevel), topBits(b - normLevel)
}

// topBits returns a mask of the n most significant bits, clamped to [1, 64].
func topBits(n int) uint64 {
	n = max(1, min(n, 64))
	return ^uint64(0) << (64 - n)
}
