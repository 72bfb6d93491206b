package repo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"coffer/cipher"
)

// ForgetPacks drops every location in packs from the index (and from the
// entries not yet saved in an index object). A block left with no other
// location becomes unknown, so SaveBlock stores it again instead of
// deduplicating against a pack that a prune plan is about to remove. The
// index objects in the store are not changed.
func (r *Repository) ForgetPacks(packs []PackID) {
	if len(packs) == 0 {
		return
	}
	away := packSet(packs)
	x := r.index
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, first := range x.blocks {
		others := x.more[id]
		if !away[first.Pack] && len(others) == 0 {
			continue
		}
		kept := make([]location, 0, 1+len(others))
		for _, l := range append([]location{first}, others...) {
			if !away[l.Pack] {
				kept = append(kept, l)
			}
		}
		switch {
		case len(kept) == 0:
			delete(x.blocks, id)
			delete(x.more, id)
		case len(kept) == 1:
			x.blocks[id] = kept[0]
			delete(x.more, id)
		default:
			x.blocks[id] = kept[0]
			x.more[id] = kept[1:]
		}
	}
	n := 0
	for _, e := range x.unsaved {
		if !away[e.Loc.Pack] {
			x.unsaved[n] = e
			n++
		}
	}
	x.unsaved = x.unsaved[:n]
}

func packSet(packs []PackID) map[PackID]bool {
	m := make(map[PackID]bool, len(packs))
	for _, p := range packs {
		m[p] = true
	}
	return m
}

// MoveBlocks makes every block of ids that is stored only in the packs
// away stored elsewhere too: it reads each such block, forgets the packs
// away (ForgetPacks), writes the block again into a new pack, and flushes,
// so that when it returns nil the new copies and their index are durable.
// Blocks with a location outside away, and blocks the index does not
// know, are left alone. It returns how many blocks it wrote. A block that
// cannot be read (every location damaged) is named in the error and the
// others are still moved.
//
// Prune repacks with it; a running daemon uses it when a prune plan names
// a pack it relies on. Either way the packs away may then be deleted
// without losing a block.
func (r *Repository) MoveBlocks(ctx context.Context, ids []cipher.ID, away []PackID) (int, error) {
	set := packSet(away)
	type move struct {
		id   cipher.ID
		locs []location
	}
	var moves []move
	for _, id := range ids {
		locs := r.index.locations(id)
		live := false
		for _, l := range locs {
			live = live || !set[l.Pack]
		}
		if len(locs) > 0 && !live {
			moves = append(moves, move{id, locs})
		}
	}
	r.ForgetPacks(away)
	// Read the blocks a cache's half at a time, one ranged GET per run of
	// them in a pack (preloadRuns), rather than one request per block.
	slices.SortFunc(moves, func(a, b move) int {
		return cmp.Or(bytes.Compare(a.locs[0].Pack[:], b.locs[0].Pack[:]), cmp.Compare(a.locs[0].Off, b.locs[0].Off))
	})
	var errs []error
	moved := 0
	var cached int64 // bytes of moves preloaded ahead of i
	for i, m := range moves {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		if cached <= 0 {
			byPack := map[PackID][]indexEntry{}
			for _, n := range moves[i:] {
				if cached+int64(n.locs[0].Len) > r.opts.CacheBytes/2 && cached > 0 {
					break
				}
				byPack[n.locs[0].Pack] = append(byPack[n.locs[0].Pack], indexEntry{ID: n.id, Loc: n.locs[0]})
				cached += int64(n.locs[0].Len)
			}
			if _, err := r.preloadRuns(ctx, treeRuns(byPack)); err != nil {
				return moved, err
			}
		}
		cached -= int64(m.locs[0].Len)
		plain, err := r.blocks.Get(ctx, m.id, func(ctx context.Context) ([]byte, error) {
			return r.readAt(ctx, m.id, m.locs)
		})
		if err == nil {
			err = r.SaveBlock(ctx, m.locs[0].Type, m.id, plain)
		}
		if err != nil {
			if !isDamage(err) {
				return moved, fmt.Errorf("move block %s: %w", m.id, err)
			}
			errs = append(errs, fmt.Errorf("move block %s: %w", m.id, err))
			continue
		}
		moved++
	}
	if err := r.Flush(ctx); err != nil {
		return moved, err
	}
	return moved, errors.Join(errs...)
}

// readAt reads block id from the first of locs that verifies.
func (r *Repository) readAt(ctx context.Context, id cipher.ID, locs []location) ([]byte, error) {
	t := locs[0].Type
	var errs []error
	for _, loc := range locs {
		plain, err := r.readLocation(ctx, t, id, loc, false)
		if err != nil && r.retryAtFirst(ctx, loc.Pack, err) {
			plain, err = r.readLocation(ctx, t, id, loc, true)
		}
		if err == nil {
			return plain, nil
		}
		if !isDamage(err) {
			return nil, err
		}
		r.reportBad(id, loc, err)
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
