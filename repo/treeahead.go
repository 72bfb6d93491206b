package repo

import (
	"bytes"
	"context"
	"sync"

	"coffer/cipher"
)

// LoadTreesAhead reads the trees beneath root into the block cache,
// breadth first with one FetchBlocks per level, so the trees of a level
// that sit together in a pack cost one ranged GET rather than one each,
// until maxBytes of trees (at most half the cache) are cached. A walk
// that follows (Walker) then finds them without waiting on the store
// for each directory. A tree that cannot be read is left for the walk to
// meet and report; only ctx's error is returned.
func (r *Repository) LoadTreesAhead(ctx context.Context, root cipher.ID, maxBytes int64) error {
	maxBytes = min(maxBytes, r.opts.CacheBytes/2)
	seen := map[cipher.ID]bool{root: true}
	level := []cipher.ID{root}
	var total int64
	for len(level) > 0 && total < maxBytes {
		wants := make([]BlockWant, len(level))
		for i, id := range level {
			wants[i] = BlockWant{Type: TreeBlock, ID: id}
		}
		var mu sync.Mutex // guards next, seen and total
		var next []cipher.ID
		err := r.FetchBlocks(ctx, wants, func(i int, plain []byte, err error) error {
			if err != nil {
				return nil
			}
			t, err := parseTree(plain)
			if err != nil {
				return nil
			}
			r.blocks.Add(level[i], bytes.Clone(plain))
			mu.Lock()
			defer mu.Unlock()
			total += int64(len(plain))
			for _, n := range t.Nodes {
				if n.Type == TypeDir && !seen[n.Subtree] {
					seen[n.Subtree] = true
					next = append(next, n.Subtree)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		level = next
	}
	return nil
}
