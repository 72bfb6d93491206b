package restore

import (
	"context"
	"maps"
	"path"
	"slices"

	"coffer/cipher"
	"coffer/repo"
)

// treeVisitor hears of each directory of a restored tree once per path,
// before the directories beneath it: dir is its path from the top ("/").
type treeVisitor func(ctx context.Context, dir string, t *repo.Tree) error

// walkPaths visits every directory path under root through repo.Walker.
// The Walker visits each distinct tree once, but a restore needs every
// path: two directories with the same contents are one tree. Directories
// the Walker skipped as seen are walked again afterwards, each from its
// own path with a fresh Walker. descend (nil: always) says whether a
// directory's subtree is wanted at all; onError hears of a tree that
// cannot be read, which is skipped.
func walkPaths(ctx context.Context, r *repo.Repository, root cipher.ID, descend func(p string) bool,
	onError func(dir string, err error), visit treeVisitor) error {
	type start struct {
		dir string
		id  cipher.ID
	}
	queue := []start{{"/", root}}
	for len(queue) > 0 {
		top := queue[0]
		queue = queue[1:]
		// expected holds the subdirectories seen in listings and not yet
		// visited; what is left after the walk was skipped as seen.
		expected := map[string]cipher.ID{}
		w := r.NewWalker()
		w.OnError = func(dir string, _ cipher.ID, err error) error {
			delete(expected, path.Join(top.dir, dir))
			onError(path.Join(top.dir, dir), err)
			return nil
		}
		err := w.Walk(ctx, top.id, func(ctx context.Context, dir string, _ cipher.ID, t *repo.Tree) error {
			dir = path.Join(top.dir, dir)
			delete(expected, dir)
			for _, n := range t.Nodes {
				if n.Type != repo.TypeDir {
					continue
				}
				p := path.Join(dir, n.Name)
				if descend != nil && !descend(p) {
					// Not wanted here; a wanted twin elsewhere is
					// skipped as seen and walked again from the queue.
					w.MarkSeen(n.Subtree)
					continue
				}
				expected[p] = n.Subtree
			}
			return visit(ctx, dir, t)
		})
		if err != nil {
			return err
		}
		for _, dir := range slices.Sorted(maps.Keys(expected)) {
			queue = append(queue, start{dir, expected[dir]})
		}
	}
	return nil
}
