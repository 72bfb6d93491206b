package repo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"coffer/objectstore"
)

// errRepoClosed: the repository was closed before its uploads finished.
var errRepoClosed = errors.New("repository closed with uploads unfinished")

// upload stores pk, retrying with capped backoff until it succeeds or the
// repository is closed; it owns one upload slot meanwhile. The first
// failure marks the store as failing, which holds writers back and makes
// flushes report the outage; success clears it.
func (p *packer) upload(pk *pack) {
	r := p.r
	ctx := r.bg
	failed := false
	for attempt, wait := 1, minBackoff; ; attempt, wait = attempt+1, r.nextBackoff(wait) {
		// Retention counts from this attempt, so a long outage does not
		// shorten the pack's protection.
		err := r.putOnce(ctx, pk.id.key(), pk.buf, r.retention())
		if err == nil {
			if failed {
				r.log.Info("pack stored after retries", "pack", pk.id.String(), "attempts", attempt)
			}
			break
		}
		if ctx.Err() != nil {
			p.closed()
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			r.log.Error("pack upload failed; retrying", "pack", pk.id.String(), "attempt", attempt, "err", err)
		}
		p.mu.Lock()
		if !failed {
			failed = true
			p.failing++
		}
		p.lastErr = err
		if errors.Is(err, objectstore.ErrExists) {
			p.rename(pk) // another object holds the name: take a new one
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if !sleep(ctx, wait) {
			p.closed()
			return
		}
		r.count.putRetries.Add(1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	p.live--
	if failed {
		p.failing--
	}
	if p.failing == 0 {
		p.lastErr = nil
	}
	r.index.add(pk.entries, true)
	for _, e := range pk.entries {
		delete(p.pend, e.ID)
	}
	// Nothing refers to the buffer now: readers copy pending blocks
	// under mu, and the store is done with it.
	r.packBufs.put(pk.buf)
	pk.buf = nil
	if p.live == 0 {
		p.idleSoon()
	}
	p.dispatch()
	p.cond.Broadcast()
}

// closed ends an upload cut short by Repository.Close: its pack stays
// pending, like any data not flushed, and waiting flushes give up.
func (p *packer) closed() {
	p.mu.Lock()
	p.running--
	p.cut++
	p.cond.Broadcast()
	p.mu.Unlock()
}

// rename gives pk a fresh random name and reseals its trailer for it;
// mu is held, and pk's upload is the only user of its trailer.
func (p *packer) rename(pk *pack) {
	_, _ = rand.Read(pk.id[:])
	for i := range pk.entries {
		pk.entries[i].Loc.Pack = pk.id
	}
	end := len(pk.buf) - 4
	tlen := int(binary.BigEndian.Uint32(pk.buf[end:]))
	pk.buf = append(pk.buf[:end-tlen], p.r.packTrailer(pk)...)
}

// outage describes why uploads are failing; mu is held and failing > 0.
// A full store keeps its own error (ENOSPC to the writer); any other
// failure also matches objectstore.ErrUnavailable (EIO, exit 5).
func (p *packer) outage() error {
	if isNoSpace(p.lastErr) || errors.Is(p.lastErr, objectstore.ErrUnavailable) {
		return fmt.Errorf("%w: %w", errUploadsFailing, p.lastErr)
	}
	return fmt.Errorf("%w: %w: %w", errUploadsFailing, objectstore.ErrUnavailable, p.lastErr)
}

// wake arranges for the waiters on cond to wake up after d and when ctx
// ends, so a wait can honour a bound; the returned func cancels both and
// may be called with mu held.
func (p *packer) wake(ctx context.Context, d time.Duration) func() {
	bc := func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	t := time.AfterFunc(d, bc)
	if ctx.Done() == nil {
		return func() { t.Stop() }
	}
	stop := context.AfterFunc(ctx, bc)
	return func() { t.Stop(); stop() }
}

// giveUp is when a wait for failing uploads that began at start, and may
// last limit, ends. A full store is not an outage that passes: the wait
// then lasts only long enough to see the next retry or two, within which
// a freed disk heals.
func (p *packer) giveUp(start time.Time, limit time.Duration) time.Time {
	if isNoSpace(p.lastErr) {
		limit = min(limit, 2*p.r.opts.MaxBackoff)
	}
	return start.Add(limit)
}

// holdBack waits while the upload queue is full, and, if forPack, while
// no pack is filling and no new one may be started (packBuffers): a slow
// store only slows the writer down, but once uploads fail the writer is
// released with an error after limit (a full store: see giveUp). mu is
// held.
// Timers are armed only once something fails (or ctx can end), so the
// ordinary backpressure wait allocates nothing.
func (p *packer) holdBack(ctx context.Context, limit time.Duration, forPack bool) error {
	var start time.Time // when this wait first saw uploads failing
	var cancel func()
	defer func() {
		if cancel != nil {
			cancel()
		}
	}()
	for len(p.queue) >= maxQueued || forPack && p.cur == nil && p.live >= packBuffers(p.r.opts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.r.bg.Err() != nil {
			return errRepoClosed
		}
		if p.failing > 0 {
			if start.IsZero() {
				start = time.Now()
			}
			if !time.Now().Before(p.giveUp(start, limit)) {
				return p.outage()
			}
		}
		if cancel == nil && (p.failing > 0 || ctx.Done() != nil) {
			cancel = p.wake(ctx, limit)
		}
		p.cond.Wait()
	}
	return nil
}

// waitHealthy waits up to d until no upload is failing and reports
// whether none is, so a file can try its failed blocks again once the
// store is back without waiting out a whole hold-back during an outage.
func (p *packer) waitHealthy(ctx context.Context, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing == 0 {
		return true
	}
	deadline := time.Now().Add(d)
	cancel := p.wake(ctx, d)
	defer cancel()
	for p.failing > 0 {
		if ctx.Err() != nil || p.r.bg.Err() != nil || !time.Now().Before(deadline) {
			return false
		}
		p.cond.Wait()
	}
	return true
}

// flush queues the current pack and returns once nothing is queued or in
// flight: nil if every block saved so far is durable. While uploads fail
// it waits up to Options.RetryWait (see giveUp for a full store), then
// reports the outage; the uploads go on being retried in the background.
func (p *packer) flush(ctx context.Context) error {
	p.mu.Lock()
	cur := p.cur
	p.cur = nil
	p.mu.Unlock()
	if cur != nil {
		p.finish(cur)
	}
	start := time.Now()
	cancel := p.wake(ctx, p.r.opts.RetryWait)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 || p.running > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.r.bg.Err() != nil {
			return errRepoClosed
		}
		if p.failing > 0 && !time.Now().Before(p.giveUp(start, p.r.opts.RetryWait)) {
			return fmt.Errorf("%d pack(s) not yet stored, still retrying: %w", len(p.queue)+p.running, p.outage())
		}
		p.cond.Wait()
	}
	if p.cut > 0 {
		// The last upload may end just before this flush looks: its
		// pack is not stored all the same.
		return errRepoClosed
	}
	return nil
}

// idleTrimAfter is how long the packer must go without starting a pack
// before its free list gives back the buffers a burst of writing needed
// (packer.idleAfter; tests shorten it). A flush (a checkpoint every 30 s,
// an fsync) empties the pipeline in the middle of a long write; the
// buffers stay for the packs that follow.
const idleTrimAfter = 10 * time.Second

// idleSoon arranges for the free list to be trimmed once the packer has
// been idle for idleTrimAfter; mu is held. A closed repository (Close
// stops the timer) arms none.
func (p *packer) idleSoon() {
	if p.r.bg.Err() != nil {
		return
	}
	if p.idle == nil {
		p.idle = time.AfterFunc(p.idleAfter, p.trimIfIdle)
		return
	}
	p.idle.Reset(p.idleAfter)
}

// trimIfIdle trims the pack free list to idlePackBuffers if no pack was
// started in the last idleAfter, or looks again later.
func (p *packer) trimIfIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live > 0 {
		return // the upload that empties the pipeline again arms it
	}
	if wait := p.idleAfter - time.Since(p.started); wait > 0 {
		p.idle.Reset(wait)
		return
	}
	p.r.packBufs.trim(idlePackBuffers)
}
