package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"coffer/cipher"
	"coffer/objectstore"
)

// retainPrefix holds the retention ledger: one sealed record per
// snapshot, retain/<snapshot ID>. It is part of the format.
const retainPrefix = "retain/"

// ledgerRecord is what walking one snapshot found that no walk before it
// had: the trees read, the packs their blocks (and the snapshot's link
// table) live in, and the index objects first read then with the packs
// each names. A fresh process replays the records of live snapshots
// instead of walking every tree; a snapshot without a readable record is
// walked again, so a lost or damaged record costs reads, never a lapse.
type ledgerRecord struct {
	Snapshot string              `json:"snapshot"`
	Trees    []string            `json:"trees"`
	Packs    []string            `json:"packs"`
	Indexes  map[string][]string `json:"indexes,omitempty"`
}

func (rec *ledgerRecord) key() string { return retainPrefix + rec.Snapshot }

// loadLedger reads the first version of every ledger record that names a
// live snapshot and replays it. A record that cannot be read is logged
// and left out: its snapshot is walked again.
func (r *Repository) loadLedger(ctx context.Context, stats *RetentionStats) error {
	st := &r.retain
	live := map[string]bool{}
	if err := r.firstVersions(ctx, snapshotPrefix, stats, func(v objectstore.Version) {
		live[strings.TrimPrefix(v.Key, snapshotPrefix)] = true
	}); err != nil {
		return err
	}
	var recs []objectstore.Version
	if err := r.firstVersions(ctx, retainPrefix, stats, func(v objectstore.Version) {
		if live[strings.TrimPrefix(v.Key, retainPrefix)] {
			recs = append(recs, v)
		}
	}); err != nil {
		return err
	}
	for _, v := range recs {
		sealed, err := r.store.GetVersion(ctx, v.Key, v.VersionID)
		stats.Requests++
		if err != nil && !isDamage(err) {
			return fmt.Errorf("keep retention: read %s: %w", v.Key, err)
		}
		var rec *ledgerRecord
		if err == nil {
			rec, err = r.openLedger(v.Key, sealed)
		}
		if err != nil {
			r.skip(v.Key, "retention ledger record unreadable, its snapshot is walked again", err)
			continue
		}
		st.apply(rec)
	}
	return nil
}

// openLedger opens and parses one sealed record.
func (r *Repository) openLedger(key string, sealed []byte) (*ledgerRecord, error) {
	plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "retain", key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var rec ledgerRecord
	if err := json.Unmarshal(plain, &rec); err != nil || rec.key() != key {
		return nil, fmt.Errorf("%w: not a ledger record for %s", ErrCorrupt, key)
	}
	return &rec, nil
}

// apply adds what rec found to the state.
func (st *retainState) apply(rec *ledgerRecord) {
	for _, h := range rec.Trees {
		if id, err := cipher.ParseID(h); err == nil {
			st.walker.MarkSeen(id)
		}
	}
	for _, h := range rec.Packs {
		if p, ok := parsePackID(h); ok {
			st.packs[p] = struct{}{}
		}
	}
	for k, packs := range rec.Indexes {
		if _, ok := st.indexPacks[k]; ok || !strings.HasPrefix(k, indexPrefix) {
			continue
		}
		ps := make([]PackID, 0, len(packs))
		for _, h := range packs {
			if p, ok := parsePackID(h); ok {
				ps = append(ps, p)
			}
		}
		st.indexPacks[k] = ps
	}
	st.covered[rec.Snapshot] = true
}

func parsePackID(h string) (PackID, bool) {
	var p PackID
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(p) {
		return p, false
	}
	copy(p[:], b)
	return p, true
}

// snapshotWalk is what walking one snapshot found that no walk before
// had: the trees read and the blocks named beneath them.
type snapshotWalk struct {
	snap   *Snapshot
	trees  []cipher.ID
	blocks []cipher.ID
	stats  RetentionStats // the step's, so far
}

// walkSnapshot walks s, skipping trees already walked; st.mu is held. A
// tree that cannot be read is reported and what is beneath it skipped
// (nothing of it can be kept); a store that fails fails the walk.
func (r *Repository) walkSnapshot(ctx context.Context, s *Snapshot, stats *RetentionStats) (*snapshotWalk, error) {
	st := &r.retain
	w := &snapshotWalk{snap: s}
	if !s.Links.IsZero() {
		w.blocks = append(w.blocks, s.Links)
	}
	st.walker.OnError = func(dir string, id cipher.ID, err error) error {
		if !isDamage(err) && !errors.Is(err, ErrMissingBlock) {
			return err
		}
		r.log.Warn("keep retention: a tree cannot be read; what is beneath it is not kept", "snapshot", s.ID, "dir", dir, "tree", id.String(), "err", err)
		return nil
	}
	err := st.walker.WalkSnapshot(ctx, s, func(_ context.Context, _ string, id cipher.ID, t *Tree) error {
		stats.Walked++
		w.trees = append(w.trees, id)
		w.blocks = append(w.blocks, id)
		for _, n := range t.Nodes {
			for _, b := range n.Blocks {
				w.blocks = append(w.blocks, b.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("keep retention: walk snapshot %s: %w", s.ID, err)
	}
	return w, nil
}

// cover adds the packs of w's blocks, which must all be durable (after
// Flush), and returns what w found as its snapshot's ledger record; st.mu
// is held.
func (r *Repository) cover(w *snapshotWalk) *ledgerRecord {
	st := &r.retain
	rec := &ledgerRecord{Snapshot: w.snap.ID}
	for _, id := range w.trees {
		rec.Trees = append(rec.Trees, id.String())
	}
	missing := 0
	for _, id := range w.blocks {
		packs := r.packsOf(id)
		if len(packs) == 0 { // nothing stored to keep; reads report the damage
			missing++
		}
		for _, p := range packs {
			if _, ok := st.packs[p]; !ok {
				st.packs[p] = struct{}{}
				rec.Packs = append(rec.Packs, p.String())
			}
		}
	}
	if missing > 0 {
		r.log.Warn("keep retention: blocks no index knows; nothing to keep for them", "snapshot", w.snap.ID, "blocks", missing)
	}
	slices.Sort(rec.Packs)
	if w.snap.ID != "" {
		st.covered[w.snap.ID] = true
	}
	return rec
}

// packsOf names the packs to keep for block id: every one a read may be
// served from, except packs a prune plan names; if it has no other, the
// first (prune keeps that one too: "still needed"). So after a repack
// extension follows the block to its new pack, and the old pack's lock
// lapses.
func (r *Repository) packsOf(id cipher.ID) []PackID {
	locs := r.index.locations(id)
	if len(locs) == 0 {
		return nil
	}
	away := r.retain.away
	packs := make([]PackID, 0, len(locs))
	for _, loc := range locs {
		if !away[loc.Pack] {
			packs = append(packs, loc.Pack)
		}
	}
	if len(packs) == 0 {
		packs = append(packs, locs[0].Pack)
	}
	return packs
}

// putLedger stores rec for its snapshot. It is a cache of what walking
// found, so a failure is logged, not returned: the next process walks
// that snapshot again.
// A record that found nothing is not stored: walking its snapshot again
// reads nothing either.
func (r *Repository) putLedger(ctx context.Context, rec *ledgerRecord) {
	if len(rec.Trees) == 0 && len(rec.Packs) == 0 && len(rec.Indexes) == 0 {
		return
	}
	plain, err := json.Marshal(rec)
	if err == nil {
		key := rec.key()
		err = r.putOnce(ctx, key, r.keys.Metadata().Seal(nil, plain, objectAD(r.id, "retain", key)), r.retention())
	}
	if err != nil {
		r.log.Warn("retention ledger record not stored; a fresh process walks this snapshot again", "snapshot", rec.Snapshot, "err", err)
	}
}
