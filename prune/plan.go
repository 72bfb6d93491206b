package prune

import (
	"context"
	"fmt"
	"slices"
	"time"

	"coffer/cipher"
	"coffer/forget"
	"coffer/repo"
)

// Snapshot is one snapshot a plan removes, or keeps although a request
// names it, and why.
type Snapshot struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"` // as in .snapshots
	Host     string    `json:"host,omitempty"`
	Uploaded time.Time `json:"uploaded"`
	Due      time.Time `json:"due,omitzero"`
	Why      string    `json:"why,omitempty"` // for a kept one
}

// Pack is one pack a plan deletes or repacks.
type Pack struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	Used   int64  `json:"used_bytes"` // bytes of blocks a kept snapshot needs (repacked)
	Blocks int    `json:"blocks"`
	Needed int    `json:"needed_blocks"`
	Orphan bool   `json:"unindexed,omitempty"`
	pack   repo.PackID
}

// Locked is an object a prune cannot remove yet.
type Locked struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until,omitzero"`
}

// Plan is what one prune decided: what it removes after the margin.
type Plan struct {
	Now     time.Time     `json:"now"` // the store's clock when planned
	Remove  []Snapshot    `json:"remove"`
	Kept    []Snapshot    `json:"kept"`
	Refused []string      `json:"refused,omitempty"` // why it needs --force
	Packs   []Pack        `json:"packs"`             // deleted whole: nothing in them is needed
	Repack  []Pack        `json:"repack"`            // partly used: needed blocks written again first
	Bytes   int64         `json:"bytes"`             // of the packs deleted and repacked
	Written int64         `json:"repack_bytes"`      // bytes repacking writes again
	Moved   int           `json:"moved_blocks"`      // blocks repacking wrote again
	Indexes []string      `json:"indexes,omitempty"` // superseded, compacted into one
	Slots   []string      `json:"slots,omitempty"`   // revoked key slots
	Locked  []Locked      `json:"locked,omitempty"`  // named, but locked past the margin
	Key     string        `json:"plan,omitempty"`    // prune/… once published
	Due     time.Time     `json:"executable,omitzero"`
	Took    time.Duration `json:"planning_ns"` // reading the store, walking, repacking
}

// Empty reports whether the plan removes nothing.
func (p *Plan) Empty() bool {
	return len(p.Remove) == 0 && len(p.Packs) == 0 && len(p.Repack) == 0 && len(p.Indexes) == 0 && len(p.Slots) == 0
}

// planned is what earlier plans name and the store still has: a new plan
// leaves it to them.
type planned struct {
	snaps, indexes, slots map[string]bool
	packs                 map[repo.PackID]bool
}

func (st *state) planned() planned {
	p := planned{snaps: map[string]bool{}, indexes: map[string]bool{}, slots: map[string]bool{}, packs: map[repo.PackID]bool{}}
	for _, pl := range st.del.Plans {
		for _, s := range pl.Snapshots {
			p.snaps[s] = true
		}
		for _, id := range pl.Packs {
			p.packs[id] = true
		}
		for _, k := range pl.Indexes {
			p.indexes[k] = true
		}
		for _, k := range pl.Slots {
			p.slots[k] = true
		}
	}
	return p
}

// choose decides which snapshots go: those whose requests matured, unless
// held (Deletions.Matured says), the base of an open session, or (without
// force) a host's newest.
func (st *state) choose(pl *Plan, earlier planned, o Options) (remove map[string]bool) {
	// A host's newest by upload time, as forget's policies judge it (a
	// planted snapshot stamped later does not make a real one removable).
	newest := map[string]*repo.Snapshot{}
	for _, s := range st.snaps {
		if n := newest[s.Host]; n == nil || forget.NewerFirst(s, n) < 0 {
			newest[s.Host] = s
		}
	}
	remove = map[string]bool{}
	for _, s := range st.snaps {
		if len(st.del.RequestsFor(s.ID)) == 0 || earlier.snaps[s.ID] {
			continue
		}
		due, _ := st.del.Due(s.ID)
		c := Snapshot{ID: s.ID, Name: st.names[s.ID], Host: s.Host, Uploaded: s.Uploaded, Due: due}
		sess, isBase := st.base(s.ID)
		switch {
		case st.del.Held(s.ID):
			c.Why = "held (coffer release lets it go)"
		case !st.del.Matured(s.ID):
			c.Why = "not due until " + stamp(due)
		case isBase:
			c.Why = fmt.Sprintf("base of the running mount on %s since %s; commit a snapshot there first", sess.Host, stamp(sess.Mounted))
		case newest[s.Host] == s && !o.Force:
			c.Why = "the newest snapshot of host " + s.Host
			pl.Refused = append(pl.Refused, fmt.Sprintf("snapshot %s (%s) is the newest of host %q", c.Name, short(s.ID), s.Host))
		default:
			remove[s.ID] = true
			pl.Remove = append(pl.Remove, c)
			continue
		}
		pl.Kept = append(pl.Kept, c)
	}
	if n := len(remove); n > 0 && !o.Force && float64(n) > o.MaxRemove*float64(len(st.snaps)) {
		pl.Refused = append(pl.Refused, fmt.Sprintf("it would remove %d of %d snapshots, more than --max-remove %.0f%%", n, len(st.snaps), 100*o.MaxRemove))
	}
	return remove
}

// chosen returns where block id is read from after this plan: its first
// location in a pack the store has that no earlier plan removes.
func (st *state) chosen(id cipher.ID, earlier planned) (repo.PackID, bool) {
	for _, l := range st.locs[id] {
		if _, ok := st.packs[l.Pack]; ok && !earlier.packs[l.Pack] {
			return l.Pack, true
		}
	}
	return repo.PackID{}, false
}

// plan decides everything but the repack itself (see Plan).
func (st *state) plan(ctx context.Context, r *repo.Repository, o Options) (*Plan, map[cipher.ID]bool, error) {
	pl := &Plan{Now: st.now, Remove: []Snapshot{}, Kept: []Snapshot{}, Packs: []Pack{}, Repack: []Pack{}}
	earlier := st.planned()
	remove := st.choose(pl, earlier, o)
	var keep []*repo.Snapshot
	for _, s := range st.snaps {
		if !remove[s.ID] {
			keep = append(keep, s)
		}
	}
	need, err := needed(ctx, r, keep)
	if err != nil {
		return nil, nil, err
	}
	used := map[repo.PackID]int64{}
	usedBlocks := map[repo.PackID]int{}
	for id := range need {
		if p, ok := st.chosen(id, earlier); ok {
			used[p] += int64(locLen(st.locs[id], p))
			usedBlocks[p]++
		}
	}
	for id, info := range st.packs {
		entries := st.inPack[id]
		if earlier.packs[id] || len(entries) == 0 || !st.settled(info) {
			continue
		}
		var total int64
		for _, e := range entries {
			total += int64(e.Len)
		}
		pk := Pack{pack: id, ID: id.String(), Size: info.Size, Used: used[id], Needed: usedBlocks[id], Blocks: len(entries), Orphan: st.orphans[id]}
		switch {
		case used[id] == 0:
			pl.Packs = append(pl.Packs, pk)
		case pk.Orphan:
			// Needed blocks only a trailer locates: leave the pack, and
			// the blocks readable, until an index names them (check
			// reports it).
			continue
		case float64(total-used[id]) > o.MaxUnused*float64(total):
			pl.Repack = append(pl.Repack, pk)
			pl.Written += used[id]
		default:
			continue
		}
		pl.Bytes += info.Size
	}
	byID := func(a, b Pack) int { return cmpString(a.ID, b.ID) }
	slices.SortFunc(pl.Packs, byID)
	slices.SortFunc(pl.Repack, byID)
	away := map[repo.PackID]bool{}
	for _, p := range append(slices.Clone(pl.Packs), pl.Repack...) {
		away[p.pack] = true
	}
	var fresh []string
	for key, ix := range st.indexes {
		if earlier.indexes[key] {
			continue
		}
		fresh = append(fresh, key)
		if slices.ContainsFunc(ix.Entries, func(l repo.BlockLocation) bool { return away[l.Pack] }) {
			pl.Indexes = append(pl.Indexes, key)
		}
	}
	if len(fresh) >= compactAt || (len(pl.Indexes) > 0 && len(fresh) > 1) {
		pl.Indexes = fresh
	}
	slices.Sort(pl.Indexes)
	for _, s := range st.revoked {
		if !earlier.slots[s.Key] && !s.Revoked.IsZero() && !s.Revoked.Add(st.del.Delay).After(st.now) {
			pl.Slots = append(pl.Slots, s.Key)
		}
	}
	return pl, need, nil
}

// locLen is the length of block's location in pack p.
func locLen(ls []repo.BlockLocation, p repo.PackID) uint32 {
	for _, l := range ls {
		if l.Pack == p {
			return l.Len
		}
	}
	return 0
}

// lockedNow names the plan's objects still locked past the margin, with
// their unlock dates (one HEAD each).
func (pl *Plan) lockedNow(ctx context.Context, r *repo.Repository, margin time.Duration) error {
	keys := pl.keys()
	for _, k := range keys {
		until, err := r.RetainedUntil(ctx, k)
		if err != nil {
			return err
		}
		if until.After(pl.Now.Add(margin)) {
			pl.Locked = append(pl.Locked, Locked{Key: k, Until: until})
		}
	}
	return nil
}

// keys are the store keys of everything the plan removes.
func (pl *Plan) keys() []string {
	var keys []string
	for _, s := range pl.Remove {
		keys = append(keys, repo.SnapshotKey(s.ID))
	}
	for _, p := range append(slices.Clone(pl.Packs), pl.Repack...) {
		keys = append(keys, p.pack.Key())
	}
	keys = append(keys, pl.Indexes...)
	return append(keys, pl.Slots...)
}

// published is the plan as stored.
func (pl *Plan) published() *repo.PrunePlan {
	p := &repo.PrunePlan{Indexes: pl.Indexes, Slots: pl.Slots,
		Note: fmt.Sprintf("%d snapshots, %d packs (%d repacked), %d bytes", len(pl.Remove), len(pl.Packs)+len(pl.Repack), len(pl.Repack), pl.Bytes)}
	for _, s := range pl.Remove {
		p.Snapshots = append(p.Snapshots, s.ID)
	}
	for _, pk := range append(slices.Clone(pl.Packs), pl.Repack...) {
		p.Packs = append(p.Packs, pk.pack)
	}
	return p
}
