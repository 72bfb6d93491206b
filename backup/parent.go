package backup

import (
	"context"

	"coffer/cipher"
	"coffer/repo"
)

// preloadParent fetches the parent snapshot's trees into the block cache
// a level at a time, so the walk finds them there: one coalesced ranged
// GET per run of neighbouring tree blocks instead of one round trip per
// directory, which is most of an unchanged re-run's time on S3. It stops
// at half the block cache's bound (the walk then loads the rest as it
// goes) and at the first error (the walk's own load reports it).
func (b *backuper) preloadParent(ctx context.Context, parent *repo.Snapshot) {
	if parent == nil {
		return
	}
	budget := b.r.CacheBytes() / 2
	level := []cipher.ID{parent.Tree}
	for len(level) > 0 && budget > 0 && ctx.Err() == nil {
		wants := make([]repo.BlockWant, len(level))
		for i, id := range level {
			wants[i] = repo.BlockWant{Type: repo.TreeBlock, ID: id}
		}
		if err := b.r.Preload(ctx, wants); err != nil {
			return
		}
		var next []cipher.ID
		for _, id := range level {
			t, err := b.r.LoadTree(ctx, id)
			if err != nil {
				return
			}
			for _, n := range t.Nodes {
				budget -= int64(len(n.Name) + 200 + 40*len(n.Blocks)) // about what a node costs in a tree block
				if n.Type == repo.TypeDir && !n.Subtree.IsZero() {
					next = append(next, n.Subtree)
				}
			}
		}
		level = next
	}
}
