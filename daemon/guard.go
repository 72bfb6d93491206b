package daemon

import (
	"context"
	"slices"
	"time"

	"coffer/repo"
)

// Guard keeps what a running mount relies on from a prune running
// elsewhere (*repo.Repository; see docs/FORMAT.md, "What a running
// daemon does").
type Guard interface {
	// RefreshPlans reads the prune plans new since the last call and
	// moves the relied-on blocks out of their packs; it returns the new
	// plans.
	RefreshPlans(ctx context.Context) ([]*repo.PrunePlan, error)
	// PlansRefreshed is our clock's time at the last refresh that
	// succeeded; zero if none did.
	PlansRefreshed() time.Time
	// RefreshInterval is how often to refresh; PruneMargin is how long a
	// plan is published before prune carries it out.
	RefreshInterval() time.Duration
	PruneMargin() time.Duration
	// MarkRelied starts a new generation of the relied set;
	// DropRelied forgets the blocks of generations up to mark.
	MarkRelied() uint64
	DropRelied(mark uint64)
	// StoreNow is the store's clock.
	StoreNow(ctx context.Context) (time.Time, error)
}

// refreshPlans reads new prune plans. A failure is a warning, and an
// error once the plans have gone unread for longer than the margin:
// a prune elsewhere may then delete blocks this mount relies on (those
// deduplicated against packs no snapshot names any more), which the
// margin cannot cover. A plan that names the head's base (prune refuses
// to plan it; this is defence in depth) is an error, and the head is
// committed at once, so that its blocks belong to a remaining snapshot.
func (d *Daemon) refreshPlans(ctx context.Context) {
	g := d.cfg.Guard
	plans, err := g.RefreshPlans(ctx)
	if err != nil {
		since := g.PlansRefreshed()
		if since.IsZero() {
			since = d.started
		}
		if unread := time.Since(since); unread > g.PruneMargin() {
			d.log.Error("prune plans unread for longer than the prune margin: a prune running elsewhere may delete blocks this mount relies on; restore access to the store",
				"unread_for", unread.Round(time.Second), "margin", g.PruneMargin(), "err", err)
		} else {
			d.log.Warn("prune plans not read; the next snapshot fails until they are", "err", err)
		}
		return
	}
	base := d.cfg.Head.Base()
	for _, p := range plans {
		if base == "" || !slices.Contains(p.Snapshots, base) {
			continue
		}
		d.log.Error("a prune plan names the snapshot this mount's head started from; committing the head now so that its blocks stay in a snapshot",
			"plan", p.Key, "base", base, "plan_host", p.Host)
		if _, err := d.commit(ctx, nil); err != nil {
			d.log.Error("the head could not be committed; the prune plan may remove blocks it relies on", "plan", p.Key, "err", err)
		}
		return
	}
}

// beginCommit is called before a commit starts. It returns the relied
// set's mark to drop once the commit succeeds, and whether it may be
// dropped: only when no file was open for writing, since an open file's
// earlier blocks are in no snapshot. The mark is taken before the files
// are looked at, so that a file opened in between keeps what it wrote.
func (d *Daemon) beginCommit(ctx context.Context) (mark uint64, clean bool, started time.Time) {
	g := d.cfg.Guard
	if g == nil {
		return 0, false, time.Time{}
	}
	mark = g.MarkRelied()
	clean = len(d.cfg.Head.OpenWriters()) == 0
	started, err := g.StoreNow(ctx)
	if err != nil {
		d.log.Warn("the store's clock not read at the commit's start; its audit record has no start time", "err", err)
	}
	return mark, clean, started
}
