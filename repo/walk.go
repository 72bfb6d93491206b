package repo

import (
	"context"
	"errors"
	"path"

	"coffer/cipher"
)

// SkipTree, returned by a TreeVisitor, leaves that tree's subtrees
// unvisited; the walk goes on with the rest.
var SkipTree = errors.New("skip this tree's subtrees")

// prefetchTrees bounds the subtrees of one tree read ahead while the walk
// descends into the first.
const prefetchTrees = 8

// TreeVisitor is called once for each tree a walk reaches, before its
// subtrees: dir is the tree's path from the snapshot's root ("/" for the
// root itself), id its block ID and t its decoded listing. Returning
// SkipTree skips the subtrees beneath; any other error ends the walk.
type TreeVisitor func(ctx context.Context, dir string, id cipher.ID, t *Tree) error

// Walker visits the trees of one or more snapshots, each tree once: a
// subtree already visited (by any walk of this Walker, or marked seen) is
// skipped with everything beneath it, so walking a snapshot after its
// parent reads only the trees that changed. Check, prune, restore and
// retention extension all walk through it. A Walker is not safe for
// concurrent use.
type Walker struct {
	r    *Repository
	seen map[cipher.ID]struct{}
	// OnError, if set, hears of a tree that cannot be read or parsed:
	// returning nil skips that tree (and what is beneath it) and goes on,
	// an error ends the walk. Without it the first such error ends it.
	OnError func(dir string, id cipher.ID, err error) error
}

// NewWalker returns a Walker that has seen nothing yet.
func (r *Repository) NewWalker() *Walker {
	return &Walker{r: r, seen: make(map[cipher.ID]struct{})}
}

// Seen reports whether tree id was visited or marked seen.
func (w *Walker) Seen(id cipher.ID) bool {
	_, ok := w.seen[id]
	return ok
}

// MarkSeen records trees as visited, so walks skip them and what is
// beneath them: for a caller that knows them from an earlier walk.
func (w *Walker) MarkSeen(ids ...cipher.ID) {
	for _, id := range ids {
		w.seen[id] = struct{}{}
	}
}

// SeenCount is how many distinct trees were visited or marked seen.
func (w *Walker) SeenCount() int { return len(w.seen) }

// WalkSnapshot walks s's tree from its root.
func (w *Walker) WalkSnapshot(ctx context.Context, s *Snapshot, visit TreeVisitor) error {
	root, err := s.TreeID()
	if err != nil {
		return err
	}
	return w.Walk(ctx, root, visit)
}

// Walk visits tree root and every subtree beneath it not seen before,
// depth first in name order, calling visit once for each.
func (w *Walker) Walk(ctx context.Context, root cipher.ID, visit TreeVisitor) error {
	return w.walk(ctx, "/", root, visit)
}

func (w *Walker) walk(ctx context.Context, dir string, id cipher.ID, visit TreeVisitor) error {
	if w.Seen(id) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := w.r.LoadTree(ctx, id)
	if err != nil {
		if w.OnError == nil || ctx.Err() != nil {
			return err // unseen: a later walk tries it again
		}
		if err := w.OnError(dir, id, err); err != nil {
			return err
		}
		w.seen[id] = struct{}{}
		return nil
	}
	w.seen[id] = struct{}{}
	err = visit(ctx, dir, id, t)
	if errors.Is(err, SkipTree) {
		return nil
	}
	if err != nil {
		return err
	}
	subs := make([]cipher.ID, len(t.Nodes))
	ahead := 0
	for i, n := range t.Nodes {
		if n.Type != TypeDir {
			continue
		}
		sub, err := n.SubtreeID() // parseTree checked it
		if err != nil {
			return err
		}
		subs[i] = sub
		if !w.Seen(sub) && ahead < prefetchTrees {
			w.r.Prefetch(ctx, TreeBlock, sub)
			ahead++
		}
	}
	for i, n := range t.Nodes {
		if n.Type != TypeDir {
			continue
		}
		if err := w.walk(ctx, path.Join(dir, n.Name), subs[i], visit); err != nil {
			return err
		}
	}
	return nil
}
