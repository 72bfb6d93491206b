package repo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/cipher"
	"coffer/objectstore"
)

// What package check needs to judge a repository from the outside: the
// packs as listed, the index's locations, a pack read whole and verified,
// and the key slots judged. Nothing here writes.

// PackPrefix is the prefix under which packs are stored.
const PackPrefix = dataPrefix

// PackInfo is one pack as the store lists it, at its first version.
type PackInfo struct {
	ID       PackID
	Key      string
	Size     int64
	Modified time.Time // the store's upload time
}

// listPacks lists data/ once, at first versions (recording the tampering
// met), and returns every pack with a coffer pack name; any other name is
// recorded as damage and left out.
func (r *Repository) listPacks(ctx context.Context) ([]PackInfo, error) {
	var out []PackInfo
	err := r.store.List(ctx, dataPrefix, func(i objectstore.Info) error {
		b, ok := parseHexName(dataPrefix, i.Key, 16)
		var id PackID
		copy(id[:], b)
		if !ok || i.Key != id.key() {
			r.skip(i.Key, "not a coffer pack name, ignored", nil)
			return nil
		}
		out = append(out, PackInfo{ID: id, Key: i.Key, Size: i.Size, Modified: i.Modified})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return out, nil
}

// Packs lists every pack in the store, one listing of data/. Later
// versions and delete markers met are recorded (Tampering), names that
// are not coffer's recorded as Damage.
func (r *Repository) Packs(ctx context.Context) ([]PackInfo, error) { return r.listPacks(ctx) }

// BlockLocation is one place an index names for a block.
type BlockLocation struct {
	Block cipher.ID
	Type  BlockType
	Pack  PackID
	Off   uint32
	Len   uint32
	// Index is the key of the index object that named it; "" when this
	// process learnt it from a pack's trailer (an index was damaged and
	// rebuilt, see Open).
	Index string
}

func (r *Repository) blockLocation(id cipher.ID, l location) BlockLocation {
	return BlockLocation{Block: id, Type: l.Type, Pack: l.Pack, Off: l.Off, Len: l.Len, Index: r.index.sourceName(l.src)}
}

// Locations returns every location the loaded indexes name, each block's
// in the order reads try them.
func (r *Repository) Locations() []BlockLocation {
	r.index.mu.RLock()
	type loc struct {
		id cipher.ID
		l  location
	}
	all := make([]loc, 0, len(r.index.blocks))
	for id, l := range r.index.blocks {
		all = append(all, loc{id, l})
		for _, m := range r.index.more[id] {
			all = append(all, loc{id, m})
		}
	}
	r.index.mu.RUnlock()
	out := make([]BlockLocation, len(all))
	for i, a := range all {
		out[i] = r.blockLocation(a.id, a.l) // sourceName takes the lock itself
	}
	return out
}

// Located reports whether any index names a location for block id.
func (r *Repository) Located(id cipher.ID) bool { return r.index.has(id) }

// PackTrailer reads pack p's trailer and returns the blocks it lists.
// A damaged trailer is an error wrapping ErrCorrupt (or the store's
// sentinel for a pack gone or short); a failing store is its own error.
func (r *Repository) PackTrailer(ctx context.Context, p PackInfo) ([]BlockLocation, error) {
	entries, err := r.readTrailer(ctx, objectstore.Info{Key: p.Key, Size: p.Size})
	if err != nil {
		return nil, err
	}
	out := make([]BlockLocation, len(entries))
	for i, e := range entries {
		out[i] = BlockLocation{Block: e.ID, Type: e.Loc.Type, Pack: e.Loc.Pack, Off: e.Loc.Off, Len: e.Loc.Len}
	}
	return out, nil
}

// IsDamage reports whether err says an object is bad (corrupt, forged,
// missing, short), not that the store failed or the caller gave up.
func IsDamage(err error) bool { return isDamage(err) }

// maxPackRead bounds the pack VerifyPack reads whole, so its memory is
// bounded: coffer fills packs to Options.PackSize (16 MiB by default)
// plus at most one block.
const maxPackRead = 64 << 20

// PackCheck is what VerifyPack found in one pack.
type PackCheck struct {
	Blocks int   // blocks that opened and whose keyed MAC is their ID
	Bytes  int64 // bytes read
	// Trailer is nil if the pack's trailer opens and lists every block
	// the indexes name in it, at the same place; else what is wrong.
	Trailer error
	Bad     []BadLocation // locations whose bytes failed, each also in BadLocations
}

// VerifyPack reads pack p whole, at its first version, and checks its
// sealed trailer and every block the indexes name in it (blocks): each
// must open under the key and its keyed MAC must be its ID. Failures are
// reported in the result (and in BadLocations, as a read's are); err is
// only a failing store or a pack that cannot be read at all (gone, short:
// damage, see IsDamage). Memory: one pack.
func (r *Repository) VerifyPack(ctx context.Context, p PackInfo, blocks []BlockLocation) (PackCheck, error) {
	var res PackCheck
	if p.Size > maxPackRead {
		return res, fmt.Errorf("pack %s: %w: %d bytes, more than coffer writes in a pack (%d at most), not read", p.Key, ErrCorrupt, p.Size, maxPackRead)
	}
	data, err := r.store.GetRange(ctx, p.Key, 0, p.Size)
	if err != nil && r.retryAtFirst(ctx, p.ID, err) {
		data, err = r.store.GetRange(ctx, p.Key, 0, p.Size)
	}
	if err != nil {
		return res, fmt.Errorf("pack %s: %w", p.Key, err)
	}
	res.Bytes = int64(len(data))
	res.Trailer = r.checkTrailer(p, data, blocks)
	// openVerified decrypts in place, so blocks are opened in offset
	// order in the pack's own buffer, and only a block that overlaps one
	// opened before (which coffer never writes) is copied first.
	blocks = slices.Clone(blocks)
	slices.SortFunc(blocks, func(a, b BlockLocation) int { return cmp.Compare(a.Off, b.Off) })
	var opened int64 // the end of the bytes decrypted so far
	for _, b := range blocks {
		loc := location{Pack: b.Pack, Off: b.Off, Len: b.Len, Type: b.Type}
		end := int64(b.Off) + int64(b.Len)
		switch {
		case end > int64(len(data)):
			err = fmt.Errorf("block %s in pack %s: %w: ends at %d, the pack has %d bytes", b.Block, p.ID, objectstore.ErrInvalidRange, end, len(data))
		case int64(b.Off) < opened:
			_, err = r.openVerified(bytes.Clone(data[b.Off:end]), b.Type, b.Block)
		default:
			_, err = r.openVerified(data[b.Off:end], b.Type, b.Block)
			opened = end
		}
		if err != nil {
			r.reportBad(b.Block, loc, err)
			bad := BadLocation{Block: b.Block, Pack: b.Pack, Off: b.Off, Len: b.Len, Index: b.Index,
				Forged: errors.Is(err, ErrForged), Reason: err.Error()}
			res.Bad = append(res.Bad, bad)
			continue
		}
		res.Blocks++
	}
	return res, nil
}

// checkTrailer opens the trailer at the end of the pack data and checks
// that it lists every block the indexes name in the pack, at the same
// place.
func (r *Repository) checkTrailer(p PackInfo, data []byte, blocks []BlockLocation) error {
	if len(data) < 4 {
		return fmt.Errorf("%w: %d bytes, no trailer", ErrCorrupt, len(data))
	}
	n := int(binary.BigEndian.Uint32(data[len(data)-4:]))
	if n < 40 || n > len(data)-4 {
		return fmt.Errorf("%w: trailer of %d bytes in %d", ErrCorrupt, n, len(data))
	}
	body := len(data) - 4 - n
	entries, err := r.openTrailer(p.Key, bytes.Clone(data[body:len(data)-4]), int64(body))
	if err != nil {
		return err
	}
	listed := make(map[indexEntry]bool, len(entries))
	for _, e := range entries {
		e.Loc.src = srcLocal
		listed[e] = true
	}
	for _, b := range blocks {
		e := indexEntry{ID: b.Block, Loc: location{Pack: b.Pack, Off: b.Off, Len: b.Len, Type: b.Type}}
		if !listed[e] {
			return fmt.Errorf("%w: the trailer does not list block %s at %d+%d, which %s names", ErrCorrupt, b.Block, b.Off, b.Len, orThisProcess(b.Index))
		}
	}
	return nil
}

func orThisProcess(index string) string {
	if index == "" {
		return "a pack trailer read by this process"
	}
	return index
}

// CheckConfig reads the config object again and opens its sealed
// settings with the key: nil if it is whole and the one this repository
// was opened with.
func (r *Repository) CheckConfig(ctx context.Context) error {
	c, err := readConfig(ctx, r.store)
	if err != nil {
		return err
	}
	if !bytes.Equal(c.ID, r.id) {
		return fmt.Errorf("config: %w: the repository ID changed since it was opened", ErrCorrupt)
	}
	_, err = openParams(r.keys, c)
	return err
}

// CheckSlots reads every key slot and revocation and judges them. It
// returns the slots with their state; damaged, one Damage for each slot
// that is unreadable or does not parse and each revocation that is
// unreadable; and notes, one for each revocation not honoured. err is a
// store that failed.
func (r *Repository) CheckSlots(ctx context.Context) (slots []SlotInfo, damaged, notes []Damage, err error) {
	loaded, skipped, err := readSlots(ctx, r.store)
	if err != nil {
		return nil, nil, nil, err
	}
	j, err := judgeStored(ctx, r.store, r.keys, r.id, loaded)
	if err != nil {
		return nil, nil, nil, err
	}
	slots = make([]SlotInfo, 0, len(loaded))
	for _, s := range loaded {
		slots = append(slots, SlotInfo{ID: s.id, Kind: s.slot.Kind(), Revoked: j.revoked[s.id], Unhonoured: j.unhonoured[s.id]})
	}
	return slots, append(skipped, j.notes[:j.unreadable]...), j.notes[j.unreadable:], nil
}

// Key is the pack's object key in the store.
func (p PackID) Key() string { return p.key() }

// preloadGap is the most bytes between two tree blocks of a pack that
// PreloadTrees reads through rather than split the range: a request
// costs more than that much transfer. preloadSpan bounds one range, so
// the reads in flight hold at most 8 of them.
const (
	preloadGap  = 256 << 10
	preloadSpan = 4 << 20
)

// PreloadTrees reads the tree blocks the indexes name into the block
// cache, verified: one ranged GET per run of them in a pack, several
// packs at once, up to half the cache. Trees are written together at
// each snapshot, so a run holds many; a walk that follows (check's,
// prune's) then reads no tree from the store one request at a time.
// Blocks that fail to read or verify are left out: the walk reads them
// itself and reports them. It returns how many trees it loaded; err is
// only ctx.
func (r *Repository) PreloadTrees(ctx context.Context) (int, error) {
	byPack := map[PackID][]indexEntry{}
	var total int64
	r.index.mu.RLock()
	for id, l := range r.index.blocks {
		if l.Type == TreeBlock && total < r.opts.CacheBytes/2 {
			byPack[l.Pack] = append(byPack[l.Pack], indexEntry{ID: id, Loc: l})
			total += int64(l.Len)
		}
	}
	r.index.mu.RUnlock()
	return r.preloadRuns(ctx, treeRuns(byPack))
}

// preloadRuns reads each run of blocks (of one pack, in offset order)
// with one ranged GET, several at once, and adds those that verify to
// the block cache. It returns how many it loaded; err is only ctx.
func (r *Repository) preloadRuns(ctx context.Context, runs [][]indexEntry) (int, error) {
	var loaded atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, run := range runs {
		g.Go(func() error {
			first, last := run[0].Loc, run[len(run)-1].Loc
			data, err := r.store.GetRange(gctx, first.Pack.key(), int64(first.Off), int64(last.Off+last.Len-first.Off))
			if err != nil {
				r.log.Debug("preload: a range failed; the blocks are read one by one", "pack", first.Pack.String(), "err", err)
				return gctx.Err()
			}
			for _, e := range run {
				off := e.Loc.Off - first.Off
				plain, err := r.openVerified(bytes.Clone(data[off:off+e.Loc.Len]), e.Loc.Type, e.ID)
				if err == nil {
					r.blocks.Add(e.ID, plain)
					loaded.Add(1)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return int(loaded.Load()), err
}

// treeRuns splits each pack's tree blocks, by offset, into runs with gaps
// of at most preloadGap between them, each spanning at most preloadSpan
// (or one block).
func treeRuns(byPack map[PackID][]indexEntry) [][]indexEntry {
	var runs [][]indexEntry
	for _, es := range byPack {
		slices.SortFunc(es, func(a, b indexEntry) int { return cmp.Compare(a.Loc.Off, b.Loc.Off) })
		start := 0
		for i := 1; i <= len(es); i++ {
			if i == len(es) || es[i].Loc.Off > es[i-1].Loc.Off+es[i-1].Loc.Len+preloadGap ||
				es[i].Loc.Off+es[i].Loc.Len-es[start].Loc.Off > preloadSpan {
				runs = append(runs, es[start:i])
				start = i
			}
		}
	}
	return runs
}
