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
	buf     []byte
	entries []indexEntry
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
// pack fills.
func (r *Repository) SaveBlock(ctx context.Context, t BlockType, id cipher.ID, plaintext []byte) error {
	p := r.packer
	if p.known(id) {
		return nil
	}
	sealed := r.keys.Contents().Seal(make([]byte, 0, len(plaintext)+cipher.Overhead), plaintext, blockAD(r.id, t, id))
	p.mu.Lock()
	if len(p.failed) > 2 {
		err := p.lastErr
		p.mu.Unlock()
		return fmt.Errorf("%w: %v", errUploadsFailing, err)
	}
	if _, ok := p.pend[id]; ok || r.index.has(id) {
		p.mu.Unlock()
		return nil
	}
	if p.cur == nil {
		p.cur = &pack{buf: make([]byte, 0, r.opts.PackSize+len(sealed)+4096)}
		if _, err := rand.Read(p.cur.id[:]); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	cur := p.cur
	loc := location{Pack: cur.id, Off: uint32(len(cur.buf)), Len: uint32(len(sealed)), Type: t}
	cur.buf = append(cur.buf, sealed...)
	cur.entries = append(cur.entries, indexEntry{ID: id, Loc: loc})
	p.pend[id] = cur
	var full *pack
	if len(cur.buf) >= r.opts.PackSize {
		full, p.cur = cur, nil
	}
	p.mu.Unlock()
	if full != nil {
		return p.upload(ctx, full)
	}
	return nil
}

// upload seals pk's trailer and starts its upload once a slot is free;
// waiting for the slot is the write path's backpressure.
func (p *packer) upload(ctx context.Context, pk *pack) error {
	trailer := p.r.keys.Metadata().Seal(nil, encodeEntries(pk.entries), objectAD(p.r.id, "pack", pk.id.key()))
	pk.buf = append(pk.buf, trailer...)
	pk.buf = binary.BigEndian.AppendUint32(pk.buf, uint32(len(trailer)))
	return p.start(ctx, pk)
}

func (p *packer) start(ctx context.Context, pk *pack) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		p.mu.Lock()
		p.failed = append(p.failed, pk)
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
		if err := p.upload(ctx, cur); err != nil {
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
