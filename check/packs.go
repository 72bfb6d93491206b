package check

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"coffer/cipher"
	"coffer/repo"
)

// packs checks the indexes against the packs both ways, from one listing
// of data/: every location an index names lies in a pack the store has,
// inside it; every pack is named by some index (else it is a leftover,
// whose trailer is read to say what it holds).
func (c *checker) packs(ctx context.Context) error {
	list, err := c.r.Packs(ctx)
	if err != nil {
		return err
	}
	c.packList = list
	size := make(map[repo.PackID]int64, len(list))
	for _, p := range list {
		size[p.ID] = p.Size
		c.rep.Bytes += p.Size
	}
	c.rep.Packs = len(list)

	c.byPack = make(map[repo.PackID][]repo.BlockLocation)
	c.located = make(map[cipher.ID]bool)
	named := make(map[repo.PackID]bool)
	// Problems are reported once per pack and naming index, not per block.
	missing := map[packIndex]int{}
	short := map[packIndex]int{}
	for _, l := range c.r.Locations() {
		if _, ok := c.located[l.Block]; !ok {
			c.located[l.Block] = false
		}
		named[l.Pack] = true
		n, ok := size[l.Pack]
		switch {
		case !ok:
			missing[packIndex{l.Pack, l.Index}]++
		case int64(l.Off)+int64(l.Len) > n-4: // a pack ends with its trailer's length
			short[packIndex{l.Pack, l.Index}]++
		default:
			c.located[l.Block] = true
			c.byPack[l.Pack] = append(c.byPack[l.Pack], l)
		}
	}
	c.rep.Blocks = len(c.located)
	for _, k := range sortedKeys(missing) {
		what := fmt.Sprintf("%s names %d blocks in this pack, which is not in the store", indexName(k.index), missing[k])
		if plan, ok := c.planned[k.pack]; ok {
			// Prune removed it and has not yet removed the index
			// naming it: interrupted, or running now. A snapshot that
			// still needs a block only there is a missing block below.
			c.rep.warn(Finding{Kind: KindMissingPack, Object: k.pack.Key(), What: what + "; prune plan " + plan + " removes it",
				Do: "a prune was interrupted or is running: run coffer prune again to finish it"})
			continue
		}
		c.rep.fail(Finding{Kind: KindMissingPack, Object: k.pack.Key(), What: what,
			Do: "the snapshots that need them are listed below as missing blocks; restore them from another copy, or forget those snapshots"})
	}
	for _, k := range sortedKeys(short) {
		c.rep.fail(Finding{Kind: KindShortPack, Object: k.pack.Key(),
			What: fmt.Sprintf("%s names %d blocks past this pack's end (%d bytes)", indexName(k.index), short[k], size[k.pack]),
			Do:   "the pack was truncated or replaced: look for tampering (coffer doctor)"})
	}
	var unnamed []repo.PackInfo
	for _, p := range list {
		if !named[p.ID] {
			unnamed = append(unnamed, p)
		}
	}
	return c.unindexed(ctx, unnamed)
}

// unindexed reports the packs no index names: leftovers of uploads whose
// index was never written (a crash, an outage before the flush, a
// process killed). Their trailers, read a few at a time, say what they
// hold.
func (c *checker) unindexed(ctx context.Context, packs []repo.PackInfo) error {
	found := make([]Finding, len(packs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, p := range packs {
		g.Go(func() error {
			blocks, err := c.r.PackTrailer(gctx, p)
			if err != nil && !repo.IsDamage(err) {
				return err
			}
			what := fmt.Sprintf("unindexed pack of %d bytes (no index names it); its trailer lists %d blocks", p.Size, len(blocks))
			if err != nil {
				what = fmt.Sprintf("unindexed pack of %d bytes (no index names it); its trailer is unreadable: %v", p.Size, err)
			}
			found[i] = Finding{Kind: KindUnindexedPack, Object: p.Key, What: what,
				Do: "a leftover of an upload whose index was never written (a crash or an outage); coffer prune removes it"}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, p := range packs {
		c.rep.UnindexedPacks++
		c.rep.UnindexedBytes += p.Size
		c.rep.warn(found[i])
	}
	return nil
}

// unused counts the packs none of whose blocks a snapshot references:
// leftovers of failed uploads, or blocks only forgotten snapshots used.
func (c *checker) unused(context.Context) error {
	var n int
	var size int64
	for _, p := range c.packList {
		blocks, ok := c.byPack[p.ID]
		if !ok {
			continue // unindexed: counted apart
		}
		if !slices.ContainsFunc(blocks, func(b repo.BlockLocation) bool { return c.used[b.Block] }) {
			n++
			size += p.Size
		}
	}
	c.rep.UnusedPacks, c.rep.UnusedBytes = n, size
	if n > 0 {
		c.rep.warn(Finding{Kind: KindUnusedPacks, Object: "data/",
			What: fmt.Sprintf("%d packs (%d bytes) hold no block any snapshot references", n, size),
			Do:   "leftovers of uploads no snapshot was committed for, or of forgotten snapshots; coffer prune removes them"})
	}
	return nil
}

func indexName(index string) string {
	if index == "" {
		return "the index rebuilt from pack trailers"
	}
	return index
}

// packIndex is a pack and an index that names it.
type packIndex struct {
	pack  repo.PackID
	index string
}

// sortedKeys returns m's keys in a fixed order, so reports are stable.
func sortedKeys(m map[packIndex]int) []packIndex {
	keys := make([]packIndex, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b packIndex) int {
		if c := bytes.Compare(a.pack[:], b.pack[:]); c != 0 {
			return c
		}
		return strings.Compare(a.index, b.index)
	})
	return keys
}
