package inspect

import (
	"context"
	"sync"

	"coffer/cipher"
	"coffer/repo"
)

// readAheadTrees bounds the trees one read-ahead loads: the block cache
// is bounded in bytes, and what read-ahead evicts is only read again.
// readAheadJobs bounds the reads at once.
const (
	readAheadTrees = 4096
	readAheadJobs  = 16
)

// readAhead loads the trees beneath root into the repository's block
// cache while a listing or a walk descends depth first: each tree, once
// loaded, starts the loads of its subtrees, readAheadJobs at a time, so
// on a store far away the reader finds its trees already read instead
// of waiting once per directory. A tree skip reports (one a walk has
// visited, with everything beneath it) is not read. It returns when every
// load it started is done. Errors are left to the reader, which reads the
// same trees and reports them. Each tree is parsed twice (here and by the
// reader): the CPU that costs is small beside a round trip per tree.
func readAhead(ctx context.Context, r *repo.Repository, root cipher.ID, skip func(cipher.ID) bool) {
	var (
		wg   sync.WaitGroup
		jobs = make(chan struct{}, readAheadJobs)
		mu   sync.Mutex // guards seen
		seen = map[cipher.ID]bool{root: true}
	)
	var load func(id cipher.ID)
	load = func(id cipher.ID) {
		defer wg.Done()
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			return
		}
		t, err := r.LoadTree(ctx, id)
		<-jobs
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range t.Nodes {
			if c.Type == repo.TypeDir && !seen[c.Subtree] && len(seen) < readAheadTrees && (skip == nil || !skip(c.Subtree)) {
				seen[c.Subtree] = true
				wg.Add(1)
				go load(c.Subtree)
			}
		}
	}
	wg.Add(1)
	load(root)
	wg.Wait()
}

// startReadAhead runs readAhead in the background and returns the
// function that stops it and waits for it to end.
func startReadAhead(ctx context.Context, r *repo.Repository, root cipher.ID, skip func(cipher.ID) bool) (stop func()) {
	ahead, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		readAhead(ahead, r, root, skip)
	}()
	return func() {
		cancel()
		<-done
	}
}
