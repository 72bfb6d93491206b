package fs

import (
	"cmp"
	"context"
	"slices"
	"sync"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"coffer/cipher"
	"coffer/repo"
)

// Read-ahead across files. A copy out of a snapshot (cp -a, rsync -a,
// tar c) reads its small files one after the other, and a block fetched
// when its file is first read costs a round trip per file. So when a
// directory is listed, a walk starts there and, once a file is read,
// fetches the blocks of the small files below it, depth first and by
// name (the order those tools read in), batch by batch with
// repo.Preload: one ranged GET covers the neighbouring files of a pack,
// several run at once. The walk keeps at most window bytes ahead of the
// furthest file read, so what it fetches is still cached when read,
// and follows a reader that went elsewhere below it.
const (
	aheadFileMax  = 4 << 20  // larger files are left to FileReader's own read-ahead
	aheadFirst    = 32 << 10 // the first batch, small so the first files come soon
	aheadBatchMax = 4 << 20  // batches double up to this
)

// readAhead is one snapshot's walk, if any.
type readAhead struct {
	r      *repo.Repository
	window int64 // bytes of small files fetched ahead of the reader at most

	mu   sync.Mutex
	walk *aheadWalk // guarded by mu; the walk running now, nil before the first
}

// aheadWalk is one walk from a directory.
type aheadWalk struct {
	root   *fusefs.Inode
	ctx    context.Context // ends when the walk does
	cancel context.CancelFunc
	kick   chan struct{} // a file was read: the walk may go on

	mu     sync.Mutex
	ends   map[cipher.ID]int64 // guarded by mu; a file's first block → bytes walked to its end
	read   int64               // guarded by mu; the furthest end read
	opened bool                // guarded by mu; a file was read since the walk began
	strays int                 // guarded by mu; files read in a row that ends lacks
	seeked bool                // the walk started at a file a reader read
	met    bool                // guarded by mu; a file it listed was read
}

func newReadAhead(r *repo.Repository) *readAhead {
	// A quarter of the cache: what is fetched ahead must outlive, in
	// the LRU, the blocks read meanwhile and any large file's.
	return &readAhead{r: r, window: r.CacheBytes() / 4}
}

// listed is called when dir (an inode of this snapshot) lists its
// entries, the tree subtree. A directory inside the running walk's is
// being reached by it already; any other starts a new walk there, ending
// the old one.
func (a *readAhead) listed(dir *fusefs.Inode, subtree cipher.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.walk != nil && a.walk.running() && under(dir, a.walk.root) {
		return
	}
	a.startLocked(dir, subtree, nil, false)
}

// startLocked starts a walk from dir, ending the one running. from, if
// set, is the path below dir of the file to start at (the walk skips
// what comes before it); opened says a file is being read already. a.mu
// must be held.
func (a *readAhead) startLocked(dir *fusefs.Inode, subtree cipher.ID, from []string, opened bool) {
	if a.window <= 0 {
		return
	}
	if a.walk != nil {
		a.walk.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &aheadWalk{root: dir, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1),
		ends: map[cipher.ID]int64{}, opened: opened, seeked: from != nil}
	a.walk = w
	go a.run(ctx, w, subtree, from)
}

// running reports whether the walk is still going: its context ends
// when it finishes or a new walk replaces it.
func (w *aheadWalk) running() bool { return w.ctx.Err() == nil }

// under reports whether n is root or below it.
func under(n, root *fusefs.Inode) bool {
	for n != nil {
		if n == root {
			return true
		}
		_, n = n.Parent()
	}
	return false
}

// aheadStrays is how many files read in a row the walk has not listed
// (the reader went elsewhere, below a directory listed earlier) make it
// start again, from the walk's root, at the last one.
const aheadStrays = 16

// reading is called when file n is read from its start: the walk may fetch (it waits
// for a first file, so ls, find and du fetch no file data) and move its
// window past n.
func (a *readAhead) reading(n *snapNode) {
	if len(n.e.Blocks) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.walk
	if w == nil {
		return
	}
	w.mu.Lock()
	w.opened = true
	end, ok := w.ends[n.e.Blocks[0].ID]
	if ok {
		w.read = max(w.read, end)
		w.strays, w.met = 0, true
	} else {
		w.strays++
	}
	// A walk moved to a reader goes on until it has met the reader: a
	// reader quicker than its first batch would move it again and again.
	strays := w.strays
	if w.seeked && !w.met {
		strays = 0
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	if strays < aheadStrays {
		return
	}
	// Go on from n, in the same walk order: the reader will go on from
	// there to what follows it.
	var from []string
	for in := n.EmbeddedInode(); in != w.root; {
		name, parent := in.Parent()
		if parent == nil {
			return // not below the walk's root: its next listing moves the walk
		}
		from = append(from, name)
		in = parent
	}
	slices.Reverse(from)
	if d, ok := w.root.Operations().(*snapNode); ok {
		a.startLocked(w.root, d.e.Subtree, from, true)
	}
}

// run walks tree and everything below it, then ends. One goroutine
// lists the trees and hands on the small files in walk order, so the
// trees' fetches overlap the files'; this one fetches the files' blocks
// batch by batch.
func (a *readAhead) run(ctx context.Context, w *aheadWalk, subtree cipher.ID, from []string) {
	defer w.cancel()
	files := make(chan *repo.Node, aheadQueue)
	go func() {
		defer close(files)
		tree, err := a.r.LoadTree(ctx, subtree)
		if err != nil {
			return // the directory's own listing reports it
		}
		_ = a.visit(ctx, tree, from, files) // only ctx's error
	}()
	b := &aheadBatch{a: a, w: w, target: aheadFirst, slots: make(chan struct{}, aheadBatches)}
	defer b.fetching.Wait()
	for e := range files {
		if b.add(ctx, e) != nil {
			return
		}
	}
	_ = b.flush(ctx)
}

// aheadQueue bounds the files listed but not yet batched; aheadBatches
// the batches fetched at once, so the round trips of one batch's GETs
// overlap the next's.
const (
	aheadQueue   = 1024
	aheadBatches = 3
)

// visit sends tree's small files in name order on files, descending into
// each directory where it comes, from the path from on (all of tree when
// from is empty). The subdirectories' trees are fetched together first:
// they usually share a pack.
func (a *readAhead) visit(ctx context.Context, tree *repo.Tree, from []string, files chan<- *repo.Node) error {
	nodes := slices.Clone(tree.Nodes)
	slices.SortFunc(nodes, func(x, y repo.Node) int { return cmp.Compare(x.Name, y.Name) })
	if len(from) > 0 {
		i, _ := slices.BinarySearchFunc(nodes, from[0], func(e repo.Node, name string) int { return cmp.Compare(e.Name, name) })
		nodes = nodes[i:]
	}
	var subtrees []repo.BlockWant
	for i := range nodes {
		if nodes[i].Type == repo.TypeDir {
			subtrees = append(subtrees, repo.BlockWant{Type: repo.TreeBlock, ID: nodes[i].Subtree})
		}
	}
	if err := a.r.Preload(ctx, subtrees); err != nil {
		return err
	}
	for i := range nodes {
		e := &nodes[i]
		switch {
		case e.Type == repo.TypeDir:
			sub, err := a.r.LoadTree(ctx, e.Subtree)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue // its own listing reports it
			}
			var below []string
			if len(from) > 0 && e.Name == from[0] {
				below = from[1:]
			}
			if err := a.visit(ctx, sub, below, files); err != nil {
				return err
			}
		case e.Type == repo.TypeFile && len(e.Blocks) > 0 && e.Size <= aheadFileMax:
			select {
			case files <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// aheadMinFile is what a file counts for in the window at least, so a
// window of tiny files holds a bounded number of them (and of ends).
const aheadMinFile = 4 << 10

// aheadBatch gathers the blocks of the next files in walk order.
type aheadBatch struct {
	a      *readAhead
	w      *aheadWalk
	wants  []repo.BlockWant
	bytes  int64 // in wants
	walked int64 // file bytes walked so far, wants included
	target int64 // flush when bytes reaches it

	slots    chan struct{}  // one per batch being fetched
	fetching sync.WaitGroup // the batches being fetched
}

// add puts file e in the batch, and fetches the batch once it is full.
func (b *aheadBatch) add(ctx context.Context, e *repo.Node) error {
	for _, ref := range e.Blocks {
		b.wants = append(b.wants, repo.BlockWant{Type: repo.DataBlock, ID: ref.ID})
	}
	n := max(int64(e.Size), aheadMinFile)
	b.bytes += n
	b.walked += n
	b.w.mu.Lock()
	b.w.ends[e.Blocks[0].ID] = b.walked
	b.w.mu.Unlock()
	// Half the window at most, so a batch never waits for the whole
	// window to be read.
	if b.bytes < min(b.target, b.a.window/2) {
		return nil
	}
	return b.flush(ctx)
}

// flush waits until a file was read, the batch fits in the window
// ahead of the furthest file read and fewer than aheadBatches are being
// fetched, then starts fetching it into the block cache.
func (b *aheadBatch) flush(ctx context.Context) error {
	for {
		b.w.mu.Lock()
		ready := b.w.opened && b.walked-b.w.read <= b.a.window
		b.w.forget()
		b.w.mu.Unlock()
		if ready {
			break
		}
		select {
		case <-b.w.kick:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	wants := b.wants
	b.wants, b.bytes = nil, 0
	b.target = min(2*b.target, aheadBatchMax)
	b.fetching.Add(1)
	go func() {
		defer func() { <-b.slots; b.fetching.Done() }()
		_ = b.a.r.Preload(ctx, wants) // only ctx's error, which ends the walk anyway
	}()
	return nil
}

// forget drops the ends of files the reader has passed (read or
// skipped), once they are many: the others fit in the window.
// w.mu must be held.
func (w *aheadWalk) forget() {
	if len(w.ends) < 4096 {
		return
	}
	for id, end := range w.ends {
		if end <= w.read {
			delete(w.ends, id)
		}
	}
}
