package repo

import (
	"math"
	"slices"
	"sync"

	"coffer/cipher"
)

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

// hasOutside reports whether id has a location in a pack not in away,
// without copying its locations.
func (x *index) hasOutside(id cipher.ID, away map[PackID]bool) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	first, ok := x.blocks[id]
	if !ok {
		return false
	}
	if !away[first.Pack] {
		return true
	}
	for _, l := range x.more[id] {
		if !away[l.Pack] {
			return true
		}
	}
	return false
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
