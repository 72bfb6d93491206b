package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// What a running daemon relies on that no snapshot names, and how it
// keeps prune from deleting it (docs/FORMAT.md, "What a running daemon
// does"). Prune publishes a plan (prune/<key>) and deletes only after the
// margin; before then every process writing to the repository reads the
// plan and, for each block it has been given since its last clean commit
// (the relied set) that is stored only in the plan's packs, writes the
// block again elsewhere (MoveBlocks). From the moment it has seen a plan
// it never deduplicates against the plan's packs again: a block stored
// only there counts as absent and is written anew.

// guardState is the relied set and the plans already acted on.
type guardState struct {
	refreshMu sync.Mutex // one refresh at a time, held through its moves

	mu     sync.Mutex
	relied map[cipher.ID]uint64 // guarded by mu; block → generation it was last given to SaveBlock in
	gen    uint64               // guarded by mu; the current generation (MarkRelied starts a new one)
	// away is every pack named by a plan seen: never deduplicated
	// against. It is replaced, never changed in place, under mu, so a
	// copy read under mu may be used without it.
	away      map[PackID]bool
	seen      map[string]bool // guarded by mu; plan keys acted on
	refreshed time.Time       // guarded by mu; our clock at the last refresh that succeeded
}

// relyOn records that the caller relies on block id from now on, and
// returns the packs not to deduplicate against. Recording before the
// check that the block is stored is what makes it safe against a
// refresh in between: either the refresh's relied set holds id (and it
// moves the block), or this returns the refresh's packs (and the block
// is written again).
func (g *guardState) relyOn(id cipher.ID) map[PackID]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.relied == nil {
		g.relied = make(map[cipher.ID]uint64)
	}
	g.relied[id] = g.gen
	return g.away
}

// storedOutside reports whether the index holds block id in a pack not in
// away. It runs for every block SaveBlock is given, so it allocates
// nothing.
func (r *Repository) storedOutside(id cipher.ID, away map[PackID]bool) bool {
	if len(away) == 0 {
		return r.index.has(id)
	}
	return r.index.hasOutside(id, away)
}

// MarkRelied starts a new generation of the relied set and returns the
// one that ends. A commit that began with no file open for writing calls
// it before it begins and, once it succeeded, DropRelied with the mark:
// every block given before is then in that snapshot (or in nothing
// anyone relies on), which prune honours.
func (r *Repository) MarkRelied() uint64 {
	g := &r.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.gen
	g.gen++
	return m
}

// DropRelied forgets the blocks last given to SaveBlock in generation
// mark or earlier. A block given again since stays.
func (r *Repository) DropRelied(mark uint64) {
	g := &r.guard
	g.mu.Lock()
	defer g.mu.Unlock()
	maps.DeleteFunc(g.relied, func(_ cipher.ID, gen uint64) bool { return gen <= mark })
}

// Relied returns how many blocks the relied set holds.
func (r *Repository) Relied() int {
	r.guard.mu.Lock()
	defer r.guard.mu.Unlock()
	return len(r.guard.relied)
}

// PlansRefreshed returns our clock's time at the last RefreshPlans that
// succeeded; zero if none did.
func (r *Repository) PlansRefreshed() time.Time {
	r.guard.mu.Lock()
	defer r.guard.mu.Unlock()
	return r.guard.refreshed
}

// RefreshInterval is how often a running daemon reads the prune plans:
// a fifth of the margin, between a second and a minute, so that it has
// seen a plan (and moved what it relies on) long before the margin ends.
func (r *Repository) RefreshInterval() time.Duration {
	return min(max(r.PruneMargin()/5, time.Second), time.Minute)
}

// RefreshPlans reads the prune plans published since the last refresh
// and, for each, stops deduplicating against its packs and moves every
// relied block stored only in them (MoveBlocks: durable and indexed
// elsewhere when it returns). It returns the plans new to this process.
// A plan is counted as seen only once its moves are durable, so a
// refresh that fails is tried again in full by the next one. A block
// that cannot be read anywhere cannot be moved: that is logged, and does
// not fail the refresh (the block is lost either way).
func (r *Repository) RefreshPlans(ctx context.Context) ([]*PrunePlan, error) {
	g := &r.guard
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	plans, err := r.PrunePlans(ctx)
	if err != nil {
		return nil, fmt.Errorf("read prune plans: %w", err)
	}
	g.mu.Lock()
	var fresh []*PrunePlan
	var packs []PackID
	for _, p := range plans {
		if !g.seen[p.Key] {
			fresh = append(fresh, p)
			packs = append(packs, p.Packs...)
		}
	}
	if len(packs) > 0 {
		away := maps.Clone(g.away)
		if away == nil {
			away = make(map[PackID]bool)
		}
		for _, p := range packs {
			away[p] = true
		}
		g.away = away
	}
	ids := slices.Collect(maps.Keys(g.relied))
	g.mu.Unlock()
	if len(fresh) == 0 {
		g.succeeded(r)
		return nil, nil
	}
	// Blocks prune repacked, or another process moved, are stored
	// elsewhere already: learn where before moving anything.
	if err := r.loadNewIndexes(ctx); err != nil {
		return nil, err
	}
	moved, err := r.MoveBlocks(ctx, ids, packs)
	if err != nil && !isDamage(err) {
		return nil, fmt.Errorf("move the blocks a prune plan would remove: %w", err)
	}
	if err != nil {
		r.log.Error("blocks this mount relies on cannot be read, so they cannot be moved out of a prune plan's packs", "err", err)
	}
	g.mu.Lock()
	if g.seen == nil {
		g.seen = make(map[string]bool)
	}
	for _, p := range fresh {
		g.seen[p.Key] = true
	}
	g.mu.Unlock()
	g.succeeded(r)
	for _, p := range fresh {
		r.log.Info("prune plan seen: its packs are no longer relied on", "plan", p.Key, "packs", len(p.Packs),
			"snapshots", len(p.Snapshots), "moved_blocks", moved)
	}
	return fresh, nil
}

func (g *guardState) succeeded(r *Repository) {
	g.mu.Lock()
	g.refreshed = r.opts.Clock()
	g.mu.Unlock()
}

// errPlansUnread wraps a refresh failure that fails a commit: without the
// plans, the commit cannot show that the blocks it names are safe.
var errPlansUnread = errors.New("the prune plans could not be read, so the snapshot cannot show its blocks are safe from a prune")

// loadNewIndexes adds the entries of the index objects this process has
// not loaded: those written since it opened the repository, by prune's
// repacking or by another process moving blocks. A damaged one is
// skipped (r.skip), as at Open.
func (r *Repository) loadNewIndexes(ctx context.Context) error {
	x := r.index
	x.mu.RLock()
	loaded := make(map[string]bool, len(x.names))
	for _, k := range x.names {
		loaded[k] = true
	}
	x.mu.RUnlock()
	var listed []objectstore.Info
	err := r.store.List(ctx, indexPrefix, func(i objectstore.Info) error {
		if _, ok := parseHexName(indexPrefix, i.Key, 16); ok && strings.Count(i.Key, "/") == 1 && !loaded[i.Key] {
			listed = append(listed, i)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list index: %w", err)
	}
	keys := oldestFirst(listed)
	srcs := x.register(keys)
	for n, key := range keys {
		entries, err := r.readIndex(ctx, key)
		if isDamage(err) {
			r.skip(key, "index object unreadable, skipped", err)
			continue
		}
		if err != nil {
			return err
		}
		x.addFrom(entries, srcs[n])
	}
	return nil
}

// RelyOnCheckpoint adds to the relied set the blocks a head checkpoint
// names that its base snapshot (c.Parent) does not name at the same
// path: the trees and file blocks of what changed, and the link table.
// A daemon resuming a checkpoint calls it before its first refresh, so
// that blocks its crashed predecessor had deduplicated against packs a
// prune plan now names are moved like its own. Subtrees whose ID equals
// the base's at the same path are not read; a tree that cannot be read is
// skipped (the head reports it when used).
func (r *Repository) RelyOnCheckpoint(ctx context.Context, c *Snapshot) error {
	g := &r.guard
	if !c.Links.IsZero() {
		g.relyOn(c.Links)
	}
	var base *Tree
	if c.Parent != "" {
		if s, err := r.LoadSnapshot(ctx, c.Parent); err == nil {
			if s.Tree == c.Tree {
				return nil
			}
			base, _ = r.LoadTree(ctx, s.Tree)
		}
	}
	return r.relyOnChanged(ctx, c.Tree, base)
}

// relyOnChanged relies on tree and every block beneath it that base (the
// tree at the same path in the base snapshot; nil if none) does not hold
// at the same name.
func (r *Repository) relyOnChanged(ctx context.Context, tree cipher.ID, base *Tree) error {
	r.guard.relyOn(tree)
	t, err := r.LoadTree(ctx, tree)
	if isDamage(err) || errors.Is(err, ErrMissingBlock) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint tree %s: %w", tree, err)
	}
	was := map[string]*Node{}
	if base != nil {
		for i := range base.Nodes {
			was[base.Nodes[i].Name] = &base.Nodes[i]
		}
	}
	for _, n := range t.Nodes {
		old := was[n.Name]
		switch {
		case n.Type == TypeDir:
			var sub *Tree
			if old != nil && old.Type == TypeDir {
				if old.Subtree == n.Subtree {
					continue
				}
				sub, _ = r.LoadTree(ctx, old.Subtree)
			}
			if err := r.relyOnChanged(ctx, n.Subtree, sub); err != nil {
				return err
			}
		case old != nil && slices.Equal(old.Blocks, n.Blocks):
		default:
			for _, b := range n.Blocks {
				r.guard.relyOn(b.ID)
			}
		}
	}
	return nil
}
