package check

import (
	"context"
	"errors"
	"fmt"
	"path"

	"coffer/cipher"
	"coffer/repo"
)

// snapshots walks every snapshot with one Walker, so each distinct tree
// is read once however many snapshots share it, and checks that every
// tree reads and that every block a file, tree or link table names is
// located in a pack the store has (step packs). It records the blocks
// referenced, for step unused.
func (c *checker) snapshots(ctx context.Context) error {
	snaps, err := c.r.Snapshots(ctx)
	if err != nil {
		return err
	}
	c.rep.Snapshots = len(snaps)
	if _, err := c.r.PreloadTrees(ctx); err != nil {
		return err
	}
	c.used = make(map[cipher.ID]bool)
	names := repo.NameSnapshots(snaps)
	w := c.r.NewWalker()
	for i, s := range snaps {
		c.snapIDs = append(c.snapIDs, s.ID)
		name := "snapshot " + names[i] + " (" + s.ID + ")"
		w.OnError = func(dir string, id cipher.ID, err error) error {
			if !repo.IsDamage(err) && !errors.Is(err, repo.ErrMissingBlock) {
				return err
			}
			c.used[id] = true
			c.rep.fail(Finding{Kind: KindTree, Object: name + " " + dir,
				What: fmt.Sprintf("tree %s cannot be read: %v", id, err),
				Do:   "nothing beneath this directory can be restored from this snapshot (or any later one sharing the tree)"})
			return nil
		}
		if !s.Links.IsZero() {
			c.block(name, "its link table", s.Links)
			if _, err := c.r.LoadLinks(ctx, s.Links); err != nil && c.located[s.Links] {
				if !repo.IsDamage(err) {
					return err
				}
				c.rep.fail(Finding{Kind: KindMissingBlock, Object: name, What: fmt.Sprintf("link table %s cannot be read: %v", s.Links, err),
					Do: "hard links restore as separate files"})
			}
		}
		err := w.WalkSnapshot(ctx, s, func(_ context.Context, dir string, id cipher.ID, t *repo.Tree) error {
			c.rep.Trees++
			c.used[id] = true
			for _, n := range t.Nodes {
				missing := 0
				for _, b := range n.Blocks {
					if !c.block("", "", b.ID) {
						missing++
					}
				}
				if missing > 0 {
					c.rep.fail(Finding{Kind: KindMissingBlock, Object: name + " " + path.Join(dir, n.Name),
						What: fmt.Sprintf("%d of the file's %d blocks are in no pack the store has", missing, len(n.Blocks)),
						Do:   "the file cannot be restored whole from this snapshot (or a later one sharing it)"})
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk %s: %w", name, err)
		}
	}
	return nil
}

// block records block id as referenced and reports whether it is located;
// if it is not and name is set, it reports that what (of name) is missing.
func (c *checker) block(name, what string, id cipher.ID) bool {
	c.used[id] = true
	if c.located[id] {
		return true
	}
	if name != "" {
		c.rep.fail(Finding{Kind: KindMissingBlock, Object: name, What: fmt.Sprintf("%s, block %s, is in no pack the store has", what, id),
			Do: "hard links restore as separate files"})
	}
	return false
}
