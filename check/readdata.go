package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"coffer/repo"
)

// Subset says which packs ReadData reads, as restic's
// --read-data-subset: either group N of T (packs whose ID's first byte
// is N-1 modulo T, so T runs with N = 1..T read every pack once), or a
// percentage of the packs picked at random (so repeated runs cover the
// whole repository in time). The zero value is every pack.
type Subset struct {
	N, T    int     // group N of T, 1 <= N <= T <= 256; T == 0: not a group
	Percent float64 // 0 < Percent <= 100; 0: not a percentage
}

// ParseSubset reads "n/t" or "P%".
func ParseSubset(s string) (Subset, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 {
			return Subset{}, fmt.Errorf("read-data subset %q: want a percentage above 0 and at most 100, such as 10%%", s)
		}
		return Subset{Percent: v}, nil
	}
	ns, ts, ok := strings.Cut(s, "/")
	n, err1 := strconv.Atoi(ns)
	t, err2 := strconv.Atoi(ts)
	if !ok || err1 != nil || err2 != nil || t < 1 || t > 256 || n < 1 || n > t {
		return Subset{}, fmt.Errorf("read-data subset %q: want n/t with 1 <= n <= t <= 256 (such as 1/7), or a percentage such as 10%%", s)
	}
	return Subset{N: n, T: t}, nil
}

// String renders s as ParseSubset reads it; "all" for the zero value.
func (s Subset) String() string {
	switch {
	case s.T > 0:
		return fmt.Sprintf("%d/%d", s.N, s.T)
	case s.Percent > 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return "all"
}

// pick returns the packs of s among packs, in their order.
func (s Subset) pick(packs []repo.PackInfo) []repo.PackInfo {
	switch {
	case s.T > 0:
		var out []repo.PackInfo
		for _, p := range packs {
			if int(p.ID[0])%s.T == s.N-1 {
				out = append(out, p)
			}
		}
		return out
	case s.Percent > 0:
		n := int(float64(len(packs))*s.Percent/100 + 0.999999)
		out := make([]repo.PackInfo, len(packs))
		copy(out, packs)
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:min(n, len(out))]
	}
	return packs
}

// readData reads the chosen packs whole, Parallel at a time, and
// verifies their trailers and every indexed block in them. Unindexed
// packs are not read (step packs read their trailers); bad blocks are
// reported with the other bad locations (step damage).
func (c *checker) readData(ctx context.Context) error {
	if !c.o.ReadData {
		return nil
	}
	var indexed []repo.PackInfo
	for _, p := range c.packList {
		if _, ok := c.byPack[p.ID]; ok {
			indexed = append(indexed, p)
		}
	}
	chosen := c.o.Subset.pick(indexed)
	var total int64
	for _, p := range chosen {
		total += p.Size
	}
	var bar Progress = noProgress{}
	if c.o.Progress != nil {
		bar = c.o.Progress(int64(len(chosen)), total)
	}
	defer bar.Done()
	var mu sync.Mutex // guards c.rep while packs are read
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Parallel)
	for _, p := range chosen {
		g.Go(func() error {
			res, err := c.r.VerifyPack(gctx, p, c.byPack[p.ID])
			if err != nil && !repo.IsDamage(err) {
				return err
			}
			bar.Add(1, p.Size)
			mu.Lock()
			defer mu.Unlock()
			c.rep.ReadPacks++
			c.rep.ReadBlocks += res.Blocks
			c.rep.ReadBytes += res.Bytes
			if err != nil {
				c.rep.fail(Finding{Kind: KindPack, Object: p.Key, What: "cannot be read: " + err.Error(),
					Do: "its blocks are lost unless stored elsewhere: see the missing blocks, restore from another copy"})
			} else if res.Trailer != nil {
				c.rep.fail(Finding{Kind: KindPack, Object: p.Key, What: "trailer: " + res.Trailer.Error(),
					Do: "the blocks still read through the index, but the index cannot be rebuilt from this pack"})
			}
			return nil
		})
	}
	return g.Wait()
}

type noProgress struct{}

func (noProgress) Add(int64, int64) {}
func (noProgress) Done()            {}
