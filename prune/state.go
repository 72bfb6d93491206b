package prune

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/audit"
	"coffer/cipher"
	"coffer/repo"
)

// state is the repository as one step of prune reads it, fresh from the
// store: plan and execute each read their own, since daemons and other
// prunes change it between the two.
type state struct {
	now      time.Time
	margin   time.Duration
	snaps    []*repo.Snapshot
	names    map[string]string // snapshot ID → its .snapshots name
	del      *repo.Deletions
	sessions []Session
	cutoff   time.Time // packs uploaded after it are protected; zero: none open

	packs   map[repo.PackID]repo.PackInfo
	indexes map[string]*repo.IndexObject
	// locs is every location of every block, oldest index first, then
	// those learnt from the trailers of unindexed packs.
	locs    map[cipher.ID][]repo.BlockLocation
	inPack  map[repo.PackID][]repo.BlockLocation // the blocks each pack holds, once each
	orphans map[repo.PackID]bool                 // packs no index names whose trailer was read
	revoked []repo.RevokedSlot
}

// readState reads everything prune decides by. log, if set, is the audit
// log, whose mount, commit and unmount records say which sessions are
// open.
func readState(ctx context.Context, r *repo.Repository, log *audit.Log) (*state, error) {
	st := &state{margin: r.PruneMargin()}
	var err error
	if st.del, err = r.Deletions(ctx); err != nil {
		return nil, err
	}
	st.now = st.del.Now
	if log != nil {
		entries, _, err := log.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		st.sessions = Sessions(audit.Records(entries))
		st.cutoff = packCutoff(st.sessions, st.margin)
	}
	if st.snaps, err = r.Snapshots(ctx); err != nil {
		return nil, err
	}
	st.names = map[string]string{}
	for i, n := range repo.NameSnapshots(st.snaps) {
		st.names[st.snaps[i].ID] = n
	}
	packs, err := r.Packs(ctx)
	if err != nil {
		return nil, err
	}
	st.packs = make(map[repo.PackID]repo.PackInfo, len(packs))
	for _, p := range packs {
		st.packs[p.ID] = p
	}
	idx, err := r.IndexObjects(ctx)
	if err != nil {
		return nil, err
	}
	st.indexes = make(map[string]*repo.IndexObject, len(idx))
	st.locs = map[cipher.ID][]repo.BlockLocation{}
	st.inPack = map[repo.PackID][]repo.BlockLocation{}
	type place struct {
		id  cipher.ID
		off uint32
	}
	seen := map[place]bool{}
	add := func(l repo.BlockLocation) {
		st.locs[l.Block] = append(st.locs[l.Block], l)
		if p := (place{l.Block, l.Off}); !seen[p] {
			seen[p] = true
			st.inPack[l.Pack] = append(st.inPack[l.Pack], l)
		}
	}
	for _, o := range idx {
		st.indexes[o.Key] = o
		for _, l := range o.Entries {
			add(l)
		}
	}
	if err := st.readOrphans(ctx, r, add); err != nil {
		return nil, err
	}
	if st.revoked, err = r.RevokedSlots(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// readOrphans reads the trailers of the packs no index names that are old
// enough to be judged: older than the margin and not protected by a
// session. Younger ones may be an upload whose index is on its way.
func (st *state) readOrphans(ctx context.Context, r *repo.Repository, add func(repo.BlockLocation)) error {
	st.orphans = map[repo.PackID]bool{}
	var todo []repo.PackInfo
	for id, p := range st.packs {
		if len(st.inPack[id]) == 0 && st.settled(p) {
			todo = append(todo, p)
		}
	}
	found := make([][]repo.BlockLocation, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, p := range todo {
		g.Go(func() error {
			ls, err := r.PackTrailer(gctx, p)
			if repo.IsDamage(err) {
				return nil // its blocks cannot be known: left alone, check reports it
			}
			found[i] = ls
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("read the trailers of unindexed packs: %w", err)
	}
	for i, ls := range found {
		if ls == nil {
			continue
		}
		st.orphans[todo[i].ID] = true
		for _, l := range ls {
			add(l)
		}
	}
	return nil
}

// settled reports whether pack p may be judged at all: no open session
// may rely on it, and an unindexed one is older than the margin.
func (st *state) settled(p repo.PackInfo) bool {
	if tooNew(p.Modified, st.cutoff) {
		return false
	}
	return !p.Modified.After(st.now.Add(-st.margin))
}

// base returns the open session whose base snapshot id is, if any.
func (st *state) base(id string) (Session, bool) {
	for _, s := range st.sessions {
		if s.Base == id {
			return s, true
		}
	}
	return Session{}, false
}

// needed walks the snapshots keep (each tree once) and returns every block
// they name: trees, file contents and link tables. Indexes written since
// r was opened are loaded first, so snapshots committed meanwhile read. A
// tree that cannot be read fails the walk: what it names is unknown, so
// nothing could be removed safely.
func needed(ctx context.Context, r *repo.Repository, keep []*repo.Snapshot) (map[cipher.ID]bool, error) {
	if err := r.RefreshIndex(ctx); err != nil {
		return nil, err
	}
	if _, err := r.PreloadTrees(ctx); err != nil {
		return nil, err
	}
	need := map[cipher.ID]bool{}
	w := r.NewWalker()
	for _, s := range keep {
		if !s.Links.IsZero() {
			need[s.Links] = true
		}
		err := w.WalkSnapshot(ctx, s, func(_ context.Context, _ string, id cipher.ID, t *repo.Tree) error {
			need[id] = true
			for _, n := range t.Nodes {
				for _, b := range n.Blocks {
					need[b.ID] = true
				}
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, err
			}
			return nil, fmt.Errorf("snapshot %s, which is kept, cannot be walked, so what it needs is not known and nothing is removed (run coffer check): %w", s.ID, err)
		}
	}
	return need, nil
}
