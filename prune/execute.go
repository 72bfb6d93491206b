package prune

import (
	"coffer/progress"
	"context"
	"fmt"
	"slices"
	"time"

	"coffer/cipher"
	"coffer/repo"
)

// Result is what carrying out plans removed, and what it left.
type Result struct {
	Plans     []string      `json:"plans"`
	Removed   []string      `json:"removed"`        // snapshot IDs
	Kept      []Snapshot    `json:"kept,omitempty"` // planned snapshots that stay, and why
	Packs     int           `json:"packs"`
	Bytes     int64         `json:"bytes"`
	KeptPacks []string      `json:"kept_packs,omitempty"` // planned packs still needed, or protected by a mount
	Indexes   int           `json:"indexes"`
	Compacted string        `json:"compacted,omitempty"` // the index object written in their place
	Slots     int           `json:"slots"`
	Locked    []Locked      `json:"locked,omitempty"` // left for a later prune
	Took      time.Duration `json:"ns"`
}

// union is every object the plans name.
type union struct {
	snaps, indexes, slots []string
	packs                 []repo.PackID
}

func unionOf(plans []*repo.PrunePlan) union {
	var u union
	for _, p := range plans {
		u.snaps = append(u.snaps, p.Snapshots...)
		u.indexes = append(u.indexes, p.Indexes...)
		u.slots = append(u.slots, p.Slots...)
		u.packs = append(u.packs, p.Packs...)
	}
	slices.Sort(u.snaps)
	slices.Sort(u.indexes)
	slices.Sort(u.slots)
	slices.SortFunc(u.packs, func(a, b repo.PackID) int { return cmpString(a.String(), b.String()) })
	u.snaps, u.indexes, u.slots, u.packs = slices.Compact(u.snaps), slices.Compact(u.indexes), slices.Compact(u.slots), slices.Compact(u.packs)
	return u
}

// open reports whether the store still has anything plan p names.
func (st *state) open(p *repo.PrunePlan) bool {
	for _, s := range st.snaps {
		if slices.Contains(p.Snapshots, s.ID) {
			return true
		}
	}
	for _, id := range p.Packs {
		if _, ok := st.packs[id]; ok {
			return true
		}
	}
	for _, k := range p.Indexes {
		if _, ok := st.indexes[k]; ok {
			return true
		}
	}
	return slices.ContainsFunc(st.revoked, func(s repo.RevokedSlot) bool { return slices.Contains(p.Slots, s.Key) })
}

// due returns the plans whose margin has passed by the store's clock and
// that are not fully carried out.
func (st *state) due() []*repo.PrunePlan {
	var out []*repo.PrunePlan
	for _, p := range st.del.Plans {
		if !p.Uploaded.Add(st.margin).After(st.now) && st.open(p) {
			out = append(out, p)
		}
	}
	return out
}

// execute carries out plans, re-judging everything against st: a
// snapshot goes only if its request is still matured, not held and it is
// no open session's base; a pack only if no block a remaining snapshot
// needs is left without a copy elsewhere, and no open session may rely on
// it. The order keeps every remaining snapshot whole at every step:
// snapshot objects first (one still locked counts as remaining), then the
// compacted index of the superseded ones, durable, then the superseded
// indexes, then packs, then revoked key slots. dry decides the same and
// removes nothing (a lock is then read from the object's retain-until).
func (st *state) execute(ctx context.Context, r *repo.Repository, plans []*repo.PrunePlan, dry bool, newBar func(string, int64, int64) *progress.Bar) (*Result, error) {
	start := time.Now()
	u := unionOf(plans)
	res := &Result{Removed: []string{}}
	for _, p := range plans {
		res.Plans = append(res.Plans, p.Key)
	}
	present := map[string]*repo.Snapshot{}
	for _, s := range st.snaps {
		present[s.ID] = s
	}
	remove := map[string]bool{}
	for _, id := range u.snaps {
		s, ok := present[id]
		if !ok {
			continue // gone already
		}
		c := Snapshot{ID: id, Name: st.names[id], Host: s.Host, Uploaded: s.Uploaded}
		c.Due, _ = st.del.Due(id)
		sess, isBase := st.base(id)
		switch {
		case st.del.Held(id):
			c.Why = "held since the plan was made"
		case !st.del.Matured(id):
			c.Why = "its request was cancelled since the plan was made"
		case isBase:
			c.Why = fmt.Sprintf("base of the running mount on %s since %s; commit a snapshot there first", sess.Host, stamp(sess.Mounted))
		default:
			remove[id] = true
			continue
		}
		res.Kept = append(res.Kept, c)
	}
	// Snapshots first: one that stays (locked) is walked with the kept.
	var keep []*repo.Snapshot
	for _, s := range st.snaps {
		if !remove[s.ID] {
			keep = append(keep, s)
			continue
		}
		gone, err := st.removeOne(ctx, r, repo.SnapshotKey(s.ID), dry, res, func() (repo.Removal, error) { return r.RemoveSnapshot(ctx, s.ID) })
		if err != nil {
			return res, err
		}
		if !gone {
			keep = append(keep, s)
			continue
		}
		res.Removed = append(res.Removed, s.ID)
	}
	need, err := needed(ctx, r, keep)
	if err != nil {
		return res, err
	}
	away := st.deletable(u.packs, need, res)

	// Index objects: the plan's, and any other naming a pack about to go,
	// are replaced by one compacted index holding their entries whose
	// pack stays, durable before any of them goes; they go before the
	// packs, so no index ever names a pack the store lost (a kill between
	// leaves unindexed packs, which the next prune finds by their
	// trailers). One still locked stays, and so do the packs it names.
	var superseded []string
	for k, ix := range st.indexes {
		if slices.Contains(u.indexes, k) || slices.ContainsFunc(ix.Entries, func(l repo.BlockLocation) bool { return away[l.Pack] }) {
			superseded = append(superseded, k)
		}
	}
	slices.Sort(superseded)
	var gone []string
	for _, k := range superseded {
		until, err := r.RetainedUntil(ctx, k)
		if err != nil {
			return res, err
		}
		if until.After(st.now) {
			res.Locked = append(res.Locked, Locked{Key: k, Until: until})
			st.keepNamed(k, away, res)
			continue
		}
		gone = append(gone, k)
	}
	if entries := st.compacted(gone, away); len(entries) > 0 && !dry {
		if res.Compacted, err = r.WriteIndex(ctx, entries); err != nil {
			return res, err
		}
	}
	for _, k := range gone {
		gone, err := st.removeOne(ctx, r, k, dry, res, nil)
		if err != nil {
			return res, err
		}
		if !gone {
			st.keepNamed(k, away, res)
			continue
		}
		res.Indexes++
	}
	var bar *progress.Bar
	if newBar != nil && !dry {
		var n, size int64
		for _, id := range u.packs {
			if away[id] {
				n, size = n+1, size+st.packs[id].Size
			}
		}
		bar = newBar("prune: packs deleted", size, n)
	}
	for _, id := range u.packs {
		if !away[id] {
			continue
		}
		gone, err := st.removeOne(ctx, r, id.Key(), dry, res, func() (repo.Removal, error) { return r.RemoveObject(ctx, id.Key()) })
		if err != nil {
			bar.Done()
			return res, err
		}
		bar.Add(1, st.packs[id].Size)
		if gone {
			res.Packs++
			res.Bytes += st.packs[id].Size
		}
	}
	bar.Done()
	for _, s := range st.revoked {
		if !slices.Contains(u.slots, s.Key) || s.Revoked.Add(st.del.Delay).After(st.now) {
			continue
		}
		gone, err := st.removeOne(ctx, r, s.Key, dry, res, nil)
		if err != nil {
			return res, err
		}
		if gone {
			res.Slots++
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// removeOne removes key with remove (nil: every version of key), or,
// when dry, says whether it would be refused as locked; a key left locked
// is added to res.Locked.
func (st *state) removeOne(ctx context.Context, r *repo.Repository, key string, dry bool, res *Result, remove func() (repo.Removal, error)) (gone bool, err error) {
	var m repo.Removal
	if dry {
		until, err := r.RetainedUntil(ctx, key)
		if err != nil {
			return false, err
		}
		m = repo.Removal{Key: key, Locked: until.After(st.now), Until: until}
	} else if remove == nil {
		m, err = r.RemoveObject(ctx, key)
	} else {
		m, err = remove()
	}
	if err != nil {
		return false, fmt.Errorf("prune: %w", err)
	}
	if m.Locked {
		res.Locked = append(res.Locked, Locked{Key: m.Key, Until: m.Until})
	}
	return !m.Locked, nil
}

// deletable returns the planned packs that may go: present, protected by
// no open session, and holding no needed block that has no copy in a
// pack that stays (for such a block, the pack it is read from first
// stays, named in res.KeptPacks).
func (st *state) deletable(packs []repo.PackID, need map[cipher.ID]bool, res *Result) map[repo.PackID]bool {
	away := map[repo.PackID]bool{}
	for _, id := range packs {
		info, ok := st.packs[id]
		switch {
		case !ok:
		case tooNew(info.Modified, st.cutoff):
			res.KeptPacks = append(res.KeptPacks, id.String()+": a running mount may rely on it")
		default:
			away[id] = true
		}
	}
	for id := range need {
		var first *repo.BlockLocation
		outside := false
		for _, l := range st.locs[id] {
			if _, ok := st.packs[l.Pack]; !ok {
				continue // a location in a pack already gone
			}
			if first == nil {
				first = &l
			}
			if !away[l.Pack] {
				outside = true
				break
			}
		}
		if first != nil && !outside {
			delete(away, first.Pack)
			res.KeptPacks = append(res.KeptPacks, first.Pack.String()+": still needed by a remaining snapshot")
		}
	}
	return away
}

// keepNamed takes the packs index k names out of away: k stays, and an
// index never names a pack the store does not have.
func (st *state) keepNamed(k string, away map[repo.PackID]bool, res *Result) {
	for _, l := range st.indexes[k].Entries {
		if away[l.Pack] {
			delete(away, l.Pack)
			res.KeptPacks = append(res.KeptPacks, l.Pack.String()+": named by "+k+", which is still locked")
		}
	}
}

// compacted returns the entries of the indexes keys whose pack the store
// still has and is not in away, each once.
func (st *state) compacted(keys []string, away map[repo.PackID]bool) []repo.BlockLocation {
	type place struct {
		id   cipher.ID
		pack repo.PackID
		off  uint32
	}
	seen := map[place]bool{}
	var out []repo.BlockLocation
	for _, k := range keys {
		for _, l := range st.indexes[k].Entries {
			p := place{l.Block, l.Pack, l.Off}
			if _, ok := st.packs[l.Pack]; !ok || away[l.Pack] || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, l)
		}
	}
	return out
}
