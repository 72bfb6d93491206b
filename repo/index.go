package repo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"coffer/cipher"
	"coffer/objectstore"
)

// ErrMissingBlock: a tree or file names a block that no index knows.
var ErrMissingBlock = errors.New("block is missing from the repository")

// location says where a sealed block lives, and which index named it.
type location struct {
	Pack PackID
	Off  uint32
	Len  uint32
	Type BlockType
	// src is where this location was learnt. It fits in the struct's
	// padding: a location costs no more memory with it than without.
	src source
}

// samePlace reports whether a and b name the same bytes.
func (a location) samePlace(b location) bool {
	return a.Pack == b.Pack && a.Off == b.Off && a.Len == b.Len && a.Type == b.Type
}

// source numbers the index objects in the order their locations are
// tried: by upload time, oldest first (listing order when the store does
// not say), from 1. srcLocal is this process: a pack it uploaded or a
// trailer it read to rebuild the index. Past srcLast every index shares
// srcLast, ranked by load order among themselves.
type source uint16

const (
	srcLocal source = 0
	srcLast  source = math.MaxUint16
)

// before reports whether locations from s are tried before those from o.
func (s source) before(o source) bool { return s.rank() < o.rank() }

func (s source) rank() int {
	if s == srcLocal {
		return math.MaxUint16 + 1 // written after every index was loaded
	}
	return int(s)
}

// index maps every stored block to every location the indexes name for
// it. Nearly every block has one, kept in blocks at the cost of a single
// location; the rare others (forged or duplicate copies) go to more.
type index struct {
	mu      sync.RWMutex
	blocks  map[cipher.ID]location   // guarded by mu; the location tried first
	more    map[cipher.ID][]location // guarded by mu; the others, in the order tried; nil until needed
	names   []string                 // guarded by mu; names[src] is source src's index key
	unsaved []indexEntry             // guarded by mu; durable, not yet in an index object
}

type indexEntry struct {
	ID  cipher.ID
	Loc location
}

func newIndex() *index {
	return &index{blocks: make(map[cipher.ID]location), names: []string{""}}
}

func (x *index) get(id cipher.ID) (location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, ok := x.blocks[id]
	return l, ok
}

func (x *index) has(id cipher.ID) bool {
	_, ok := x.get(id)
	return ok
}

// locations returns every location of id, in the order to try them.
func (x *index) locations(id cipher.ID) []location {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, ok := x.blocks[id]
	if !ok {
		return nil
	}
	return append([]location{l}, x.more[id]...)
}

// add records blocks that are durable in a pack this process wrote or
// found.
func (x *index) add(entries []indexEntry, unsaved bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range entries {
		e.Loc.src = srcLocal
		x.insert(e.ID, e.Loc)
	}
	if unsaved {
		x.unsaved = append(x.unsaved, entries...)
	}
}

// addFrom records the entries of the index object numbered src.
func (x *index) addFrom(entries []indexEntry, src source) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range entries {
		e.Loc.src = src
		x.insert(e.ID, e.Loc)
	}
}

// insert adds loc to id's locations in rank order; the same place named
// twice is kept once, with the earlier source. mu must be held.
func (x *index) insert(id cipher.ID, loc location) {
	first, ok := x.blocks[id]
	if !ok {
		x.blocks[id] = loc
		return
	}
	others := x.more[id]
	if first.samePlace(loc) {
		if loc.src.before(first.src) {
			x.blocks[id] = loc
		}
		return
	}
	for i, o := range others {
		if o.samePlace(loc) {
			if loc.src.before(o.src) {
				others = slices.Delete(others, i, i+1)
				break
			}
			return
		}
	}
	if loc.src.before(first.src) {
		x.blocks[id], loc = loc, first
	}
	i := len(others)
	for i > 0 && loc.src.before(others[i-1].src) {
		i--
	}
	if x.more == nil {
		x.more = make(map[cipher.ID][]location)
	}
	x.more[id] = slices.Insert(others, i, loc)
}

// demote moves loc, which failed a read, behind id's other locations.
func (x *index) demote(id cipher.ID, loc location) {
	x.mu.Lock()
	defer x.mu.Unlock()
	others := x.more[id]
	if len(others) == 0 {
		return
	}
	if first := x.blocks[id]; first.samePlace(loc) {
		x.blocks[id] = others[0]
		x.more[id] = append(others[1:], first)
		return
	}
	for i, o := range others {
		if o.samePlace(loc) {
			x.more[id] = append(slices.Delete(others, i, i+1), o)
			return
		}
	}
}

// register numbers index objects in the order given (the order their
// locations are tried) and returns their sources.
func (x *index) register(keys []string) []source {
	x.mu.Lock()
	defer x.mu.Unlock()
	srcs := make([]source, len(keys))
	for i, key := range keys {
		srcs[i] = srcLast // shared: it names no single index
		if len(x.names) < int(srcLast) {
			x.names = append(x.names, key)
			srcs[i] = source(len(x.names) - 1)
		}
	}
	return srcs
}

// sourceName is the key of the index object numbered src, or "" for this
// process.
func (x *index) sourceName(src source) string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if int(src) < len(x.names) {
		return x.names[src]
	}
	return indexPrefix + " (one of the indexes loaded after the first 65534)"
}

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
	plain := encodeEntries(entries)
	_, err := r.putPatiently(ctx, func() (string, []byte, error) {
		var name [16]byte
		if _, err := rand.Read(name[:]); err != nil {
			return "", nil, err
		}
		key := indexPrefix + hex.EncodeToString(name[:])
		return key, r.keys.Metadata().Seal(nil, plain, objectAD(r.id, "index", key)), nil
	})
	if err != nil {
		// Keep the entries so the next flush writes them.
		r.index.mu.Lock()
		r.index.unsaved = append(entries, r.index.unsaved...)
		r.index.mu.Unlock()
		return fmt.Errorf("write index: %w", err)
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
