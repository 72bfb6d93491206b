package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// What deletion changes in retention. Objects needed only by snapshots
// with a pending deletion request (not cancelled, not held) stop being
// extended, so that once prune may remove them their locks have lapsed
// or soon will; objects any other snapshot needs are extended as
// before. A cancelled request's (or a held) snapshot counts again at the
// next step. And a block's pack is kept only if no prune plan names it,
// unless the block has no location outside the plans' packs (packsOf).
//
// The state a step builds on (the walker's trees, the packs covered
// snapshots need) is valid only for the exclusions and plans it was
// built under: when they change, it is built again by walking the live
// snapshots (once per change). For the same reason the ledger, which
// records only what each walk found new, is replayed only when there is
// no pending request and no plan.

// exclusions is what the deletion objects say retention must leave out.
type exclusions struct {
	snapshots []string        // excluded snapshot IDs, sorted
	away      map[PackID]bool // every plan's packs
	plans     int             // how many plans
	sig       string          // snapshots and plan keys, one string: "" when nothing is excluded or planned
}

// exclusions reads the deletion objects (new ones only: each is read
// once).
func (r *Repository) exclusions(ctx context.Context, stats *RetentionStats) (exclusions, error) {
	d, err := r.Deletions(ctx)
	stats.Requests += 1 + len(DeletionPrefixes)
	if err != nil {
		return exclusions{}, fmt.Errorf("keep retention: %w", err)
	}
	var ex exclusions
	for _, id := range d.PendingSnapshots() {
		if !d.Held(id) {
			ex.snapshots = append(ex.snapshots, id)
		}
	}
	slices.Sort(ex.snapshots)
	ex.snapshots = slices.Compact(ex.snapshots)
	ex.away = map[PackID]bool{}
	var keys []string
	for _, p := range d.Plans {
		keys = append(keys, p.Key)
		for _, pk := range p.Packs {
			ex.away[pk] = true
		}
	}
	slices.Sort(keys)
	ex.plans = len(keys)
	if len(ex.snapshots) > 0 || len(keys) > 0 {
		ex.sig = strings.Join(ex.snapshots, ",") + "|" + strings.Join(keys, ",")
	}
	return ex, nil
}

// exclude makes ex the exclusions the state is built under; st.mu is
// held.
func (st *retainState) exclude(ex exclusions) {
	st.excluded = make(map[string]bool, len(ex.snapshots))
	for _, id := range ex.snapshots {
		st.excluded[id] = true
	}
	st.away = ex.away
	st.sig = ex.sig
}
