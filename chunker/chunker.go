package chunker

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// Chunker finds content-defined chunk boundaries in a byte stream. It holds
// the state of one chunk in progress; the caller feeds bytes with Scan and
// calls Reset after each cut. A Chunker is not safe for concurrent use; use
// one per stream (Table.New makes one without allocating more than its
// state: a repository writes many small files, each with its own).
type Chunker struct {
	*Table // shared, never changed

	fp uint64 // gear hash of the hashed bytes of the current chunk
	n  int    // bytes in the current chunk
}

// Table is what every Chunker of one seed and Params shares: the keyed
// gear table (2 KiB, an AES keystream to derive) and the offsets. It is
// safe for concurrent use.
type Table struct {
	gear [256]uint64

	// Offsets within a chunk, derived from Params. A byte is hashed once
	// the chunk holds at least hashFrom bytes before it; a cut after a byte
	// may happen once the chunk (with that byte) holds min bytes; the
	// loose mask applies from avg bytes; a cut always happens at max.
	hashFrom, min, avg, max int
	strict, loose           uint64
}

// NewTable returns the Table for chunkers whose boundaries are keyed by
// seed: without the seed, chunk lengths say nothing useful about the
// content. p must be valid (see Params.Validate); an invalid p is a
// programming error and NewTable panics.
func NewTable(seed [32]byte, p Params) *Table {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	t := &Table{
		hashFrom: p.Min - 64,
		min:      p.Min,
		avg:      p.Avg,
		max:      p.Max,
	}
	t.strict, t.loose = p.masks()
	fillGear(&t.gear, seed)
	return t
}

// New returns a Chunker at the start of a stream.
func (t *Table) New() *Chunker { return &Chunker{Table: t} }

// fillGear derives the gear table from seed: the AES-256-CTR keystream under
// key seed with an all-zero initial counter block, read as 256 little-endian
// uint64s. Part of the format.
func fillGear(gear *[256]uint64, seed [32]byte) {
	block, err := aes.NewCipher(seed[:])
	if err != nil {
		// Unreachable: a 32-byte key is always a valid AES key.
		panic(err)
	}
	var iv [aes.BlockSize]byte
	buf := make([]byte, 8*len(gear))
	cipher.NewCTR(block, iv[:]).XORKeyStream(buf, buf)
	for i := range gear {
		gear[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
}

// Reset starts a new chunk: the next byte passed to Scan is its first.
func (c *Chunker) Reset() {
	c.fp = 0
	c.n = 0
}

// Len returns the number of bytes in the current chunk so far.
func (c *Chunker) Len() int { return c.n }

// Scan examines data, which continues the current chunk, and reports how
// many leading bytes of data belong to the current chunk (n) and whether the
// chunk ends after them (cut). If cut is false, n == len(data) and the
// caller should feed more data. State carries across calls: the boundaries
// found do not depend on how the stream is split into calls. After a cut,
// the caller calls Reset and passes data[n:] to Scan again.
func (c *Chunker) Scan(data []byte) (n int, cut bool) {
	for n < len(data) {
		var k int
		switch {
		case c.n < c.hashFrom:
			k = min(len(data)-n, c.hashFrom-c.n)
		case c.n < c.min-1:
			k = min(len(data)-n, c.min-1-c.n)
			c.fp = c.hashOnly(c.fp, data[n:n+k])
		case c.n < c.avg-1:
			k = min(len(data)-n, c.avg-1-c.n)
			k, cut = c.hashFind(data[n:n+k], c.strict)
		case c.n < c.max-1:
			k = min(len(data)-n, c.max-1-c.n)
			k, cut = c.hashFind(data[n:n+k], c.loose)
		default:
			// The byte that brings the chunk to max ends it, whatever its
			// hash.
			k, cut = 1, true
		}
		n += k
		c.n += k
		if cut {
			return n, true
		}
	}
	return n, false
}

// hashOnly rolls seg into fp without testing for boundaries.
func (c *Chunker) hashOnly(fp uint64, seg []byte) uint64 {
	gear := &c.gear
	for _, b := range seg {
		fp = fp<<1 + gear[b]
	}
	return fp
}

// hashFind rolls seg into the hash and stops after the first byte whose
// hash has all mask bits clear. It returns the number of bytes consumed and
// whether it stopped at a boundary.
//
// The hash after a byte depends only on that byte and the 63 before it
// (older bytes are shifted out), and callers only test bytes at least 63
// past the first hashed one. So a stretch of seg can be hashed in lanes
// that run side by side, each starting 64 bytes early from zero: one lane
// is bound by its two-instruction dependency chain, four lanes are bound
// by the loads and run about twice as fast. A block where any lane sees a
// boundary is hashed again one byte at a time, to find the first one;
// that happens about once per chunk, so it costs little. (Unrolling
// one lane two bytes a step, as FastCDC 2020 does, does not shorten the
// chain for masks of the top bits.)
func (c *Chunker) hashFind(seg []byte, mask uint64) (int, bool) {
	done := 0
	for len(seg)-done >= laneBlock {
		b := (*[laneBlock]byte)(seg[done : done+laneBlock])
		if f, hit := c.lanes(b, mask); !hit {
			c.fp = f
			done += laneBlock
			continue
		}
		n, cut := c.hashSerial(b[:], mask)
		if cut {
			return done + n, true
		}
		// Unreachable: a lane saw a boundary, so the serial pass does.
		done += laneBlock
	}
	n, cut := c.hashSerial(seg[done:], mask)
	return done + n, cut
}

// Lane geometry: laneCount lanes of laneLen bytes make one block.
const (
	laneLen   = 4096
	laneCount = 4
	laneBlock = laneCount * laneLen
)

// lanes hashes block b, which continues the current chunk, in four lanes
// and reports whether any byte's hash has all mask bits clear; if none
// has, f is the hash after b's last byte. The chunk's state is unchanged.
func (c *Chunker) lanes(b *[laneBlock]byte, mask uint64) (f uint64, hit bool) {
	gear := &c.gear
	l0 := (*[laneLen]byte)(b[0*laneLen:])
	l1 := (*[laneLen]byte)(b[1*laneLen:])
	l2 := (*[laneLen]byte)(b[2*laneLen:])
	l3 := (*[laneLen]byte)(b[3*laneLen:])
	f0 := c.fp
	f1 := warm(gear, (*[64]byte)(b[1*laneLen-64:]))
	f2 := warm(gear, (*[64]byte)(b[2*laneLen-64:]))
	f3 := warm(gear, (*[64]byte)(b[3*laneLen-64:]))
	for i := 0; i < laneLen; i++ {
		f0 = f0<<1 + gear[l0[i]]
		f1 = f1<<1 + gear[l1[i]]
		f2 = f2<<1 + gear[l2[i]]
		f3 = f3<<1 + gear[l3[i]]
		if f0&mask == 0 || f1&mask == 0 || f2&mask == 0 || f3&mask == 0 {
			return 0, true
		}
	}
	return f3, false
}

// warm returns the hash after the 64 bytes of w: the hash of any stream
// whose last 64 bytes are w.
func warm(gear *[256]uint64, w *[64]byte) uint64 {
	var f uint64
	for _, b := range w {
		f = f<<1 + gear[b]
	}
	return f
}

// hashSerial is hashFind one byte at a time.
func (c *Chunker) hashSerial(seg []byte, mask uint64) (int, bool) {
	gear := &c.gear
	fp := c.fp
	for i, b := range seg {
		fp = fp<<1 + gear[b]
		if fp&mask == 0 {
			c.fp = fp
			return i + 1, true
		}
	}
	c.fp = fp
	return len(seg), false
}
