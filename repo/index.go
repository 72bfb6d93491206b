package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"coffer/objectstore"
)

// ErrMissingBlock: a tree or file names a block that no index knows.
var ErrMissingBlock = errors.New("block is missing from the repository")

// Index object layout (inside the seal): "CIX1", then per entry
// id[32] type[1] pack[16] off[4] len[4], big-endian.
const (
	indexMagic     = "CIX1"
	indexEntrySize = 32 + 1 + 16 + 4 + 4
)

func encodeEntries(entries []indexEntry) []byte {
	b := make([]byte, 0, len(indexMagic)+len(entries)*indexEntrySize)
	b = append(b, indexMagic...)
	for _, e := range entries {
		b = append(b, e.ID[:]...)
		b = append(b, byte(e.Loc.Type))
		b = append(b, e.Loc.Pack[:]...)
		b = binary.BigEndian.AppendUint32(b, e.Loc.Off)
		b = binary.BigEndian.AppendUint32(b, e.Loc.Len)
	}
	return b
}

func decodeEntries(b []byte) ([]indexEntry, error) {
	if len(b) < len(indexMagic) || string(b[:len(indexMagic)]) != indexMagic ||
		(len(b)-len(indexMagic))%indexEntrySize != 0 {
		return nil, ErrCorrupt
	}
	b = b[len(indexMagic):]
	out := make([]indexEntry, 0, len(b)/indexEntrySize)
	for ; len(b) > 0; b = b[indexEntrySize:] {
		var e indexEntry
		copy(e.ID[:], b[:32])
		e.Loc.Type = BlockType(b[32])
		copy(e.Loc.Pack[:], b[33:49])
		e.Loc.Off = binary.BigEndian.Uint32(b[49:53])
		e.Loc.Len = binary.BigEndian.Uint32(b[53:57])
		out = append(out, e)
	}
	return out, nil
}

// saveIndex writes the entries not yet in any index object as a new one.
func (r *Repository) saveIndex(ctx context.Context) error {
	r.index.mu.Lock()
	entries := r.index.unsaved
	r.index.unsaved = nil
	r.index.mu.Unlock()
	if len(entries) == 0 {
		return nil
	}
	if _, err := r.putIndex(ctx, entries); err != nil {
		// Keep the entries so the next flush writes them.
		r.index.mu.Lock()
		r.index.unsaved = append(entries, r.index.unsaved...)
		r.index.mu.Unlock()
		return err
	}
	return nil
}

// loadIndex reads every index object, a few at a time. An index object
// that is damaged (corrupt, truncated, swapped for another, planted) is
// logged and skipped, and a name that is not coffer's is ignored with a
// warning. Each index is numbered first, oldest upload first, so that
// every block's locations are tried in that order (index.insert). If any
// index was skipped, the blocks it may have named are
// located again from the trailers of the packs no readable index names
// (rebuildIndex). A store that fails is an error, never damage.
func (r *Repository) loadIndex(ctx context.Context) error {
	var listed []objectstore.Info
	err := r.store.List(ctx, indexPrefix, func(i objectstore.Info) error {
		if _, ok := parseHexName(indexPrefix, i.Key, 16); !ok || strings.Count(i.Key, "/") != 1 {
			r.skip(i.Key, "not a coffer index name, ignored", nil)
			return nil
		}
		listed = append(listed, i)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list index: %w", err)
	}
	keys := oldestFirst(listed)
	srcs := r.index.register(keys)
	var damaged atomic.Int32
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for n, key := range keys {
		g.Go(func() error {
			entries, err := r.readIndex(gctx, key)
			if isDamage(err) {
				r.skip(key, "index object unreadable, skipped (its blocks are located again from the packs)", err)
				damaged.Add(1)
				return nil
			}
			if err != nil {
				return err
			}
			r.index.addFrom(entries, srcs[n])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if damaged.Load() == 0 {
		return nil
	}
	return r.rebuildIndex(ctx)
}

// oldestFirst returns the keys of the listed index objects in the order
// their locations are tried: by the store's upload time, oldest first,
// and in listing order where the store gives no time or the same one.
func oldestFirst(listed []objectstore.Info) []string {
	slices.SortStableFunc(listed, func(a, b objectstore.Info) int { return a.Modified.Compare(b.Modified) })
	keys := make([]string, len(listed))
	for i, info := range listed {
		keys[i] = info.Key
	}
	return keys
}

// readIndex reads and opens one index object.
func (r *Repository) readIndex(ctx context.Context, key string) ([]indexEntry, error) {
	sealed, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return r.openIndex(key, sealed)
}

// openIndex opens the sealed index object key and decodes its entries.
func (r *Repository) openIndex(key string, sealed []byte) ([]indexEntry, error) {
	plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "index", key))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", key, ErrCorrupt, err)
	}
	entries, err := decodeEntries(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return entries, nil
}
