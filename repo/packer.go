package repo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"coffer/cipher"
)

// errUploadsFailing: new blocks are refused while too many packs wait for
// a retry, so memory stays bounded when the store is down.
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
// with backpressure: at most Uploads packs are in flight.
type packer struct {
	r     *Repository
	slots chan struct{} // upload semaphore

	mu      sync.Mutex
	cond    *sync.Cond          // signalled when an upload ends; uses mu
	cur     *pack               // guarded by mu
	pend    map[cipher.ID]*pack // guarded by mu; sealed, not yet durable
	running int                 // guarded by mu; uploads in flight
	failed  []*pack             // guarded by mu; uploads to retry
	lastErr error               // guarded by mu; the last upload error
}

func newPacker(r *Repository) *packer {
	p := &packer{r: r, slots: make(chan struct{}, r.opts.Uploads), pend: make(map[cipher.ID]*pack)}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// known reports whether block id is already stored or on its way.
func (p *packer) known(id cipher.ID) bool {
	if p.r.index.has(id) {
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
func (r *Repository) SaveBlock(ctx context.Context, t BlockType, id cipher.ID, plaintext []byte) error {
	p := r.packer
	if p.known(id) {
		return nil
	}
	n := len(plaintext) + cipher.Overhead
	p.mu.Lock()
	if len(p.failed) > 2 {
		err := p.lastErr
		p.mu.Unlock()
		return fmt.Errorf("%w: %w", errUploadsFailing, err)
	}
	if _, ok := p.pend[id]; ok || r.index.has(id) {
		p.mu.Unlock()
		return nil
	}
	var full *pack
	if p.cur != nil && len(p.cur.buf)+n > cap(p.cur.buf) {
		full, p.cur = p.cur, nil
	}
	if p.cur == nil {
		p.cur = p.newPack(n)
	}
	cur := p.cur
	off := len(cur.buf)
	cur.buf = cur.buf[:off+n]
	dst := cur.buf[off : off : off+n]
	cur.sealing++
	p.mu.Unlock()
	if full != nil {
		if err := p.finish(ctx, full); err != nil {
			return err
		}
	}

	r.keys.Contents().Seal(dst, plaintext, blockAD(r.id, t, id))

	p.mu.Lock()
	cur.sealing--
	if cur.sealing == 0 {
		p.cond.Broadcast()
	}
	cur.entries = append(cur.entries, indexEntry{ID: id, Loc: location{Pack: cur.id, Off: uint32(off), Len: uint32(n), Type: t}})
	p.pend[id] = cur
	full = nil
	if cur == p.cur && len(cur.buf) >= r.opts.PackSize {
		full, p.cur = cur, nil
	}
	p.mu.Unlock()
	if full != nil {
		return p.finish(ctx, full)
	}
	return nil
}

// newPack starts a pack whose buffer holds the target size plus one more
// block, so reserved space never moves; mu must be held.
func (p *packer) newPack(first int) *pack {
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

// finish waits until every block reserved in pk is sealed, then uploads
// it. Blocks are sealed by other goroutines that already hold their
// reservation, so the wait is short.
func (p *packer) finish(ctx context.Context, pk *pack) error {
	p.mu.Lock()
	for pk.sealing > 0 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	return p.upload(ctx, pk)
}

// upload seals pk's trailer and starts its upload once a slot is free;
// waiting for the slot is the write path's backpressure.
func (p *packer) upload(ctx context.Context, pk *pack) error {
	trailer := p.r.keys.Metadata().Seal(nil, encodeEntries(pk.entries), objectAD(p.r.id, "pack", pk.id.key()))
	p.mu.Lock() // pending() reads buf meanwhile
	pk.buf = append(pk.buf, trailer...)
	pk.buf = binary.BigEndian.AppendUint32(pk.buf, uint32(len(trailer)))
	p.mu.Unlock()
	return p.start(ctx, pk)
}

func (p *packer) start(ctx context.Context, pk *pack) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.mu.Lock()
		p.failed = append(p.failed, pk) // kept: the next flush uploads it
		if p.lastErr == nil {
			p.lastErr = ctx.Err()
		}
		p.mu.Unlock()
		return ctx.Err()
	}
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
	go func() {
		err := p.r.store.Put(context.WithoutCancel(ctx), pk.id.key(), pk.buf, p.r.retention())
		<-p.slots
		p.mu.Lock()
		defer p.mu.Unlock()
		p.running--
		if err != nil {
			p.r.log.Error("pack upload failed; will retry", "pack", pk.id.String(), "err", err)
			p.lastErr = err
			p.failed = append(p.failed, pk)
		} else {
			p.r.index.add(pk.entries, true)
			for _, e := range pk.entries {
				delete(p.pend, e.ID)
			}
			// Nothing refers to the buffer now: readers copy pending
			// blocks under mu, and the store is done with it.
			p.r.packBufs.put(pk.buf)
			pk.buf = nil
		}
		p.cond.Broadcast()
	}()
	return nil
}

// flush uploads the current pack and retries failed ones, and returns once
// nothing is in flight: nil if every block saved so far is durable.
func (p *packer) flush(ctx context.Context) error {
	p.mu.Lock()
	cur := p.cur
	p.cur = nil
	retry := p.failed
	p.failed = nil
	p.mu.Unlock()
	if cur != nil {
		if err := p.finish(ctx, cur); err != nil {
			return err
		}
	}
	for _, pk := range retry {
		if err := p.start(ctx, pk); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.running > 0 {
		p.cond.Wait()
	}
	if len(p.failed) > 0 {
		return fmt.Errorf("%d pack(s) not stored: %w", len(p.failed), p.lastErr)
	}
	return nil
}
