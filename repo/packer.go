package repo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"coffer/cipher"
)

// errUploadsFailing: a writer was held back past Options.HoldWriters
// while uploads kept failing, or the store is full.
var errUploadsFailing = errors.New("uploads to the store are failing")

// pack is a pack object being assembled: sealed blocks back to back, then
// a sealed trailer listing them (so an index can be rebuilt from packs),
// then the trailer's length as 4 big-endian bytes.
type pack struct {
	id      PackID
	buf     []byte       // guarded by packer.mu, except each reserved range while it is sealed
	entries []indexEntry // guarded by packer.mu; blocks sealed so far
	sealing int          // guarded by packer.mu; reserved ranges not yet sealed
}

// packer assembles sealed blocks into packs and uploads them in parallel,
// with backpressure: at most Uploads packs are in flight and maxQueued
// more wait for a slot; past that, writers wait. Every pack holds a
// buffer until its upload ends, and at most packBuffers packs exist at
// once: a writer that needs a new pack waits for one to be stored. A failed upload keeps
// its slot and is retried with backoff until it succeeds, so an outage
// holds writers back (bounded by Options.HoldWriters) instead of failing
// them, and heals by itself.
type packer struct {
	r *Repository
	// idleAfter is how long the packer goes without starting a pack
	// before idle trims the free list (idleTrimAfter; tests shorten it).
	idleAfter time.Duration

	mu      sync.Mutex
	cond    *sync.Cond          // signalled when an upload ends or fails; uses mu
	cur     *pack               // guarded by mu
	pend    map[cipher.ID]*pack // guarded by mu; sealed, not yet durable
	queue   []*pack             // guarded by mu; sealed, waiting for a slot
	running int                 // guarded by mu; uploads in flight, retrying ones too
	failing int                 // guarded by mu; uploads that failed and have not yet succeeded
	cut     int                 // guarded by mu; uploads Repository.Close ended unfinished
	live    int                 // guarded by mu; packs holding a buffer: filling, finishing, queued, uploading
	started time.Time           // guarded by mu; when the last pack was started
	idle    *time.Timer         // guarded by mu; trims the free list once nothing was packed for a while
	lastErr error               // guarded by mu; the last upload error; nil when failing == 0
}

// maxQueued is how many full packs may wait for an upload slot before
// writers are held back.
const maxQueued = 1

// packBuffers bounds the packs that exist at once (packer.live), and so
// the write path's largest memory: Uploads uploading and maxQueued
// waiting, or as many uploading and one filling. The free list keeps
// that many buffers, so a long write reuses them all instead of dropping
// some to the garbage collector and making new ones: with the
// collector's target at twice the live heap, that garbage piled up, one
// pack after another, for as long as the write went on, and the daemon's
// memory grew with the file (issue 10).
func packBuffers(o Options) int { return o.Uploads + maxQueued }

// idlePackBuffers is how many pack buffers the free list keeps once
// nothing is uploading: the next write's first pack.
const idlePackBuffers = 1

func newPacker(r *Repository) *packer {
	p := &packer{r: r, pend: make(map[cipher.ID]*pack), idleAfter: idleTrimAfter}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// known reports whether block id is already stored, in a pack not in
// away, or on its way.
func (p *packer) known(id cipher.ID, away map[PackID]bool) bool {
	if p.r.storedOutside(id, away) {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pend[id]
	return ok
}

// pending returns a copy of block id's sealed bytes if it is not yet
// durable, or nil.
func (p *packer) pending(id cipher.ID) ([]byte, location, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pk, ok := p.pend[id]
	if !ok {
		return nil, location{}, nil
	}
	for _, e := range pk.entries {
		if e.ID == id {
			return append([]byte(nil), pk.buf[e.Loc.Off:e.Loc.Off+e.Loc.Len]...), e.Loc, nil
		}
	}
	return nil, location{}, fmt.Errorf("block %s: pending pack lost it: %w", id, ErrCorrupt)
}

// SaveBlock stores plaintext as block id of type t unless it is already
// stored. The block becomes durable at the next Flush, or earlier when its
// pack fills. It seals straight into the pack's buffer: space is reserved
// under the lock, sealing runs outside it, in parallel with other blocks.
// Every block given, stored or found, joins the relied set (guard.go); a
// block stored only in packs a prune plan names counts as absent.
func (r *Repository) SaveBlock(ctx context.Context, t BlockType, id cipher.ID, plaintext []byte) error {
	p := r.packer
	away := r.guard.relyOn(id)
	if p.known(id, away) {
		r.count.countData(t, len(plaintext), true)
		return nil
	}
	n := len(plaintext) + cipher.Overhead
	// Trees are stored by a commit, which reports an outage as soon as
	// a flush does; file data waits longer.
	limit := r.opts.HoldWriters
	if t != DataBlock {
		limit = r.opts.RetryWait
	}
	p.mu.Lock()
	if err := p.holdBack(ctx, limit, false); err != nil {
		p.mu.Unlock()
		return err
	}
	if _, ok := p.pend[id]; ok || r.storedOutside(id, away) {
		p.mu.Unlock()
		r.count.countData(t, len(plaintext), true)
		return nil
	}
	for p.cur == nil || len(p.cur.buf)+n > cap(p.cur.buf) {
		if full := p.cur; full != nil {
			// Queued before waiting for a buffer, so that its upload
			// is one of those the wait is for.
			p.cur = nil
			p.mu.Unlock()
			p.finish(full)
			p.mu.Lock()
			continue
		}
		if p.live < packBuffers(r.opts) {
			p.cur = p.newPack(n)
			break
		}
		if err := p.holdBack(ctx, limit, true); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	r.count.countData(t, len(plaintext), false)
	cur := p.cur
	off := len(cur.buf)
	cur.buf = cur.buf[:off+n]
	dst := cur.buf[off : off : off+n]
	cur.sealing++
	p.mu.Unlock()

	r.keys.Contents().Seal(dst, plaintext, blockAD(r.id, t, id))

	p.mu.Lock()
	cur.sealing--
	if cur.sealing == 0 {
		p.cond.Broadcast()
	}
	cur.entries = append(cur.entries, indexEntry{ID: id, Loc: location{Pack: cur.id, Off: uint32(off), Len: uint32(n), Type: t}})
	p.pend[id] = cur
	var full *pack
	if cur == p.cur && len(cur.buf) >= r.opts.PackSize {
		full, p.cur = cur, nil
	}
	p.mu.Unlock()
	if full != nil {
		p.finish(full)
	}
	return nil
}

// BufferBytes is about how much memory the write path holds in its large
// buffers, reused rather than dropped: the packs being filled, queued or
// uploaded, and the buffers the free lists keep. It does not count the
// chunks on their way to a pack. The daemon's memory limit gives these
// bytes no headroom for garbage (cmd/coffer, memlimit.go).
func (r *Repository) BufferBytes() int64 {
	p := r.packer
	p.mu.Lock()
	live := p.live
	p.mu.Unlock()
	return int64(live)*int64(r.packBufs.size) + r.packBufs.keptBytes() + r.chunkBufs.keptBytes() + r.writeBufs.keptBytes()
}

// newPack starts a pack whose buffer holds the target size plus one more
// block, so reserved space never moves; mu must be held. The pack counts
// in live until its upload ends.
func (p *packer) newPack(first int) *pack {
	p.live++
	p.started = time.Now()
	var buf []byte
	if first <= maxBlockOverrun {
		buf = p.r.packBufs.get()
	} else {
		buf = make([]byte, 0, p.r.opts.PackSize+first)
	}
	pk := &pack{buf: buf}
	_, _ = rand.Read(pk.id[:])
	return pk
}

// maxBlockOverrun is the room past the target size for the last block.
const maxBlockOverrun = 4<<20 + cipher.Overhead

// finish waits until every block reserved in pk is sealed, then seals
// its trailer and queues it for upload. Blocks are sealed by other
// goroutines that already hold their reservation, so the wait is short.
func (p *packer) finish(pk *pack) {
	p.mu.Lock()
	for pk.sealing > 0 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	// Nobody adds to pk now; the trailer is sealed outside the lock and
	// appended under it, since readers of pending blocks hold it.
	trailer := p.r.packTrailer(pk)
	p.mu.Lock()
	pk.buf = append(pk.buf, trailer...)
	p.queue = append(p.queue, pk)
	p.dispatch()
	p.mu.Unlock()
}

// packTrailer returns pk's sealed trailer followed by its length.
func (r *Repository) packTrailer(pk *pack) []byte {
	plain := encodeEntries(pk.entries)
	trailer := make([]byte, 0, len(plain)+cipher.Overhead+4)
	trailer = r.keys.Metadata().Seal(trailer, plain, objectAD(r.id, "pack", pk.id.key()))
	return binary.BigEndian.AppendUint32(trailer, uint32(len(trailer)))
}

// dispatch starts uploads while slots are free; mu is held.
func (p *packer) dispatch() {
	for p.running < p.r.opts.Uploads && len(p.queue) > 0 {
		pk := p.queue[0]
		p.queue = p.queue[1:]
		p.running++
		go p.upload(pk)
	}
}
