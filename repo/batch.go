package repo

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"coffer/cipher"
	"coffer/objectstore"
)

// BlockWant names one block to fetch.
type BlockWant struct {
	Type BlockType
	ID   cipher.ID
}

// Coalescing: blocks of one pack whose sealed bytes lie at most
// fetchGap apart are read with one ranged GET, the gap read through and
// dropped, up to fetchSpan bytes per GET. On S3 a request costs a round
// trip (a millisecond on loopback, tens over a WAN) while a few hundred
// KiB more cost less than that, so small files packed together cost one
// request for many. A span is also at most FetchBytes/Fetches, so the
// GETs allowed at once fit the budget together.
const (
	fetchGap  = 256 << 10
	fetchSpan = 4 << 20
)

// FetchBlocks fetches every wanted block, authenticated exactly as
// ReadBlock does (block cache, sealed cache on disk, every location the
// indexes name in order, the pack's first version), and calls
// fn(i, plaintext, err) once for each want i. Blocks not cached are read
// with ranged GETs that each cover neighbouring blocks of one pack
// (gaps up to fetchGap read through), issued in pack and offset order,
// Options.Fetches at once, holding at most Options.FetchBytes (or one
// span) at a time.
//
// Blocks read in coalesced GETs are not added to the disk cache: a bulk
// read (a restore, a copy out of a mount) would write every block a
// second time, one synced file each, and push out what the cache holds
// for later reads.
//
// fn is called from several goroutines at once; plain is valid only
// during the call (copy it to keep it), must not be modified (it may be
// the block cache's), and is nil when err is set. A block
// that fails verification in a coalesced read is read again alone, the
// way ReadBlock reads it, so damage fails only that block. FetchBlocks
// returns fn's first error, or ctx's, and then calls fn no more; it
// returns nil once fn was called for every want.
func (r *Repository) FetchBlocks(ctx context.Context, wants []BlockWant, fn func(i int, plain []byte, err error) error) error {
	plan, err := r.planFetch(wants, fn)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Fetches)
	budget := semaphore.NewWeighted(r.opts.FetchBytes)
	for _, b := range plan.alone {
		g.Go(func() error {
			plain, err := r.fetchBlock(gctx, b.Type, b.ID)
			return b.deliver(gctx, plain, err, fn)
		})
	}
	for _, s := range plan.spans {
		// Take the budget before the goroutine, so spans start in
		// offset order and a full budget holds back the loop.
		n := min(int64(s.len), r.opts.FetchBytes)
		if err := budget.Acquire(gctx, n); err != nil {
			break // ctx ended; Wait returns why
		}
		g.Go(func() error {
			defer budget.Release(n)
			return r.fetchSpan(gctx, s, fn)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// fetchWant is one distinct wanted block and every want that names it.
type fetchWant struct {
	BlockWant
	wants []int    // indexes into FetchBlocks' wants
	loc   location // where it is read from, for a want in a span
}

// deliver hands plain (or err) to fn for each of w's wants. plain is
// the same bytes for all of them, so fn must not change it.
func (w *fetchWant) deliver(ctx context.Context, plain []byte, err error, fn func(int, []byte, error) error) error {
	for _, i := range w.wants {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if ferr := fn(i, plain, err); ferr != nil {
			return ferr
		}
	}
	return nil
}

// span is one ranged GET: blocks of one pack, in offset order.
type span struct {
	pack   PackID
	off    uint32
	len    uint32
	blocks []*fetchWant
}

type fetchPlan struct {
	alone []*fetchWant // read one by one, as ReadBlock does
	spans []span       // read together, in pack and offset order
}

// planFetch serves from the caches what they hold (calling fn) and
// plans the reads of the rest: a block still in a pack being written,
// or without a readable first location, is read alone; the others are
// sorted by pack and offset and cut into spans.
func (r *Repository) planFetch(wants []BlockWant, fn func(int, []byte, error) error) (fetchPlan, error) {
	byID := make(map[BlockWant]*fetchWant, len(wants))
	var distinct []*fetchWant
	for i, want := range wants {
		if w, ok := byID[want]; ok {
			w.wants = append(w.wants, i)
			continue
		}
		w := &fetchWant{BlockWant: want, wants: []int{i}}
		byID[want] = w
		distinct = append(distinct, w)
	}
	var plan fetchPlan
	var batch []*fetchWant
	for _, w := range distinct {
		if plain, ok := r.blocks.Peek(w.ID); ok {
			if err := w.deliver(context.Background(), plain, nil, fn); err != nil {
				return plan, err
			}
			continue
		}
		locs := r.index.locations(w.ID)
		if r.packer.holds(w.ID) || len(locs) == 0 || locs[0].Type != w.Type {
			plan.alone = append(plan.alone, w)
			continue
		}
		if plain, ok := r.readSealedCache(w.Type, w.ID, locs[0]); ok {
			if err := w.deliver(context.Background(), plain, nil, fn); err != nil {
				return plan, err
			}
			continue
		}
		w.loc = locs[0]
		batch = append(batch, w)
	}
	slices.SortFunc(batch, func(a, b *fetchWant) int {
		if c := bytes.Compare(a.loc.Pack[:], b.loc.Pack[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.loc.Off, b.loc.Off)
	})
	// Each of the GETs running at once gets its share of the budget.
	spanMax := uint32(min(fetchSpan, r.opts.FetchBytes/int64(r.opts.Fetches)))
	for _, w := range batch {
		if n := len(plan.spans); n > 0 {
			s := &plan.spans[n-1]
			end := max(s.off+s.len, w.loc.Off+w.loc.Len)
			if s.pack == w.loc.Pack && w.loc.Off <= s.off+s.len+fetchGap && end-s.off <= spanMax {
				s.len = end - s.off
				s.blocks = append(s.blocks, w)
				continue
			}
		}
		plan.spans = append(plan.spans, span{pack: w.loc.Pack, off: w.loc.Off, len: w.loc.Len, blocks: []*fetchWant{w}})
	}
	return plan, nil
}

// fetchSpan reads s with one GET and delivers each of its blocks. A
// block whose bytes fail, or a span the store says is damaged (missing,
// short), is read again block by block the way ReadBlock reads it (other
// locations, the pack's first version), which also reports the bad
// location; an outage fails every block of the span at once.
func (r *Repository) fetchSpan(ctx context.Context, s span, fn func(int, []byte, error) error) error {
	data, err := r.store.GetRange(ctx, s.pack.key(), int64(s.off), int64(s.len))
	if err == nil && len(data) != int(s.len) {
		// The contract promises exactly the range; a store that breaks
		// it must not make the slicing below panic.
		err = fmt.Errorf("pack %s: %d bytes for a range of %d: %w", s.pack, len(data), s.len, objectstore.ErrInvalidRange)
	}
	if err != nil && !isDamage(err) {
		for _, w := range s.blocks {
			if derr := w.deliver(ctx, nil, err, fn); derr != nil {
				return derr
			}
		}
		return nil
	}
	var end uint32 // where the last block opened in place ended
	for _, w := range s.blocks {
		var plain []byte
		verr := err
		if verr == nil {
			lo := w.loc.Off - s.off
			sealed := data[lo : lo+w.loc.Len]
			if w.loc.Off < end {
				// Overlaps a block already decrypted in place (only a
				// forged index names such places): read a copy.
				sealed = bytes.Clone(sealed)
			}
			end = max(end, w.loc.Off+w.loc.Len)
			plain, verr = r.openFetched(sealed, w.Type, w.ID, w.loc, false)
		}
		if verr != nil {
			plain, verr = r.fetchBlock(ctx, w.Type, w.ID)
		}
		if derr := w.deliver(ctx, plain, verr, fn); derr != nil {
			return derr
		}
	}
	return nil
}

// holds reports whether block id is in a pack not yet uploaded.
func (p *packer) holds(id cipher.ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pend[id]
	return ok
}

// Preload fetches the wanted blocks that the block cache lacks into it
// (FetchBlocks), so the reads that follow find them there. A block that
// fails is left out, so its own read reports the error; Preload returns
// only ctx's error.
func (r *Repository) Preload(ctx context.Context, wants []BlockWant) error {
	missing := make([]BlockWant, 0, len(wants))
	for _, w := range wants {
		if !r.blocks.Contains(w.ID) {
			missing = append(missing, w)
		}
	}
	return r.FetchBlocks(ctx, missing, func(i int, plain []byte, err error) error {
		if err != nil {
			r.log.Debug("preload: block not fetched", "block", missing[i].ID.String(), "err", err)
			return nil
		}
		// A copy: plain lives in the span's buffer, which the cache
		// must not keep alive.
		r.blocks.Add(missing[i].ID, bytes.Clone(plain))
		return nil
	})
}

// CacheBytes is the block cache's bound: what Preload may fill.
func (r *Repository) CacheBytes() int64 { return r.opts.CacheBytes }
