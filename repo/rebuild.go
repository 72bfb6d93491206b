package repo

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"coffer/objectstore"
)

// trailerProbe is how many bytes at a pack's end are read at first: one
// request holds the trailer of any pack of up to about a thousand blocks;
// a longer trailer costs a second request.
const trailerProbe = 64 << 10

// rebuildIndex locates again the blocks of packs that no readable index
// names, from each pack's sealed trailer, and stores what it finds as a
// new index object through the normal index path. It reads only those
// packs (one listing of data/ plus usually one ranged read per pack), so
// its cost follows the damage, not the repository's size. A pack whose
// trailer is damaged is skipped with a warning: its blocks stay missing
// and read as I/O errors. Failing to store the new index (read-only
// credentials, say) is a warning too: the repaired locations are still
// used by this process.
func (r *Repository) rebuildIndex(ctx context.Context) error {
	named := make(map[PackID]bool)
	r.index.mu.RLock()
	for _, l := range r.index.blocks {
		named[l.Pack] = true
	}
	for _, more := range r.index.more {
		for _, l := range more {
			named[l.Pack] = true
		}
	}
	r.index.mu.RUnlock()
	packs, err := r.listPacks(ctx)
	if err != nil {
		return fmt.Errorf("rebuild the index: %w", err)
	}
	var unnamed []objectstore.Info
	for _, p := range packs {
		if !named[p.ID] {
			unnamed = append(unnamed, objectstore.Info{Key: p.Key, Size: p.Size, Modified: p.Modified})
		}
	}
	var found atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, info := range unnamed {
		g.Go(func() error {
			entries, err := r.readTrailer(gctx, info)
			if isDamage(err) {
				r.skip(info.Key, "pack trailer unreadable, its blocks stay missing", err)
				return nil
			}
			if err != nil {
				return err
			}
			var fresh []indexEntry
			for _, e := range entries {
				if !r.index.has(e.ID) {
					fresh = append(fresh, e)
				}
			}
			r.index.add(fresh, true)
			found.Add(int64(len(fresh)))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(unnamed) == 0 {
		r.log.Debug("index damage: every pack is named by a readable index")
		return nil
	}
	r.log.Warn("index rebuilt from pack trailers", "packs_read", len(unnamed), "blocks_found", found.Load())
	if found.Load() == 0 {
		return nil
	}
	if err := r.saveIndex(ctx); err != nil {
		r.log.Warn("the rebuilt index could not be stored; it is used by this process only", "err", err)
	}
	return nil
}

// readTrailer reads and opens the trailer of the pack info names and
// checks that every entry lies inside the pack and names it.
func (r *Repository) readTrailer(ctx context.Context, info objectstore.Info) ([]indexEntry, error) {
	key := info.Key
	if info.Size < 4 {
		return nil, fmt.Errorf("pack %s: %w: %d bytes", key, ErrCorrupt, info.Size)
	}
	probe := min(info.Size, trailerProbe)
	tail, err := r.store.GetRange(ctx, key, info.Size-probe, probe)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", key, err)
	}
	n := int64(binary.BigEndian.Uint32(tail[len(tail)-4:]))
	body := info.Size - 4 - n // where the trailer starts
	if n < 40 || body < 0 {
		return nil, fmt.Errorf("pack %s: %w: trailer of %d bytes in %d", key, ErrCorrupt, n, info.Size)
	}
	var sealed []byte
	if n+4 <= probe {
		sealed = tail[probe-4-n : probe-4]
	} else if sealed, err = r.store.GetRange(ctx, key, body, n); err != nil {
		return nil, fmt.Errorf("pack %s: %w", key, err)
	}
	return r.openTrailer(key, sealed, body)
}

// openTrailer opens the sealed trailer of pack key, whose blocks end at
// body, and checks that every entry lies inside the pack and names it.
func (r *Repository) openTrailer(key string, sealed []byte, body int64) ([]indexEntry, error) {
	plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "pack", key))
	if err != nil {
		return nil, fmt.Errorf("pack %s trailer: %w: %w", key, ErrCorrupt, err)
	}
	entries, err := decodeEntries(plain)
	if err != nil {
		return nil, fmt.Errorf("pack %s trailer: %w", key, err)
	}
	for _, e := range entries {
		if e.Loc.Pack.key() != key || int64(e.Loc.Off)+int64(e.Loc.Len) > body {
			return nil, fmt.Errorf("pack %s trailer: %w: entry outside the pack", key, ErrCorrupt)
		}
	}
	return entries, nil
}
