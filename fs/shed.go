package fs

import (
	"context"
	"slices"
	"time"
	"weak"

	"coffer/repo"
)

// Memory: the head holds in memory what is in use, not everything it was
// ever asked about. Files, symlinks and special files are held by their
// loaded directory; once more than Head.maxLoaded are, a trim sheds the
// least recently used clean directories: it drops their files, keeping
// only each file's inode number, so the directory loads again from its
// tree block, the same as before, when next used. A shed directory keeps
// its subdirectories, until they hold nothing loaded either: then they are
// dropped whole (dropDirs), leaving a ghost with their inode numbers.
//
// A directory is clean when its tree block says all of it (see dirty.go).
// When too few are, because everything was written since the last commit,
// the trim first stores the trees of the changed directories, as a commit
// would (files still open are left out and keep theirs changed), without
// making a snapshot: a crash loses nothing a commit would have kept, and
// the next commit names those trees (or newer ones). Trees stored by a
// trim that a later change replaces before a commit are never named by a
// snapshot; prune removes them like any unreferenced block.
//
// The kernel holds the files it has looked up until it forgets them, and
// coffer must serve the same node while it does: a shed directory keeps a
// weak reference to each file it dropped and takes back any node still
// alive when it loads again, so a change made through a node the kernel
// holds is never lost to a fresh copy. A file that changes while its
// directory is shed loads the directory first (node.pin). The trim then
// asks the kernel to forget the shed names, so that it lets go of those
// nodes too.

// DefaultMaxLoaded is how many files (and symlinks and special files) a
// head keeps loaded before it sheds directories: about 600 bytes each.
const DefaultMaxLoaded = 100_000

// trimSoon starts a trim if too many files are loaded and none is running.
func (h *Head) trimSoon() {
	if h.loadedLeaves.Load() <= h.maxLoaded || !h.trimming.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer h.trimming.Store(false)
		h.trim(context.Background())
	}()
}

// Trim sheds clean directories until at most three quarters of the
// head's bound of loaded files remain, storing the trees of changed
// directories first if that is the only way there. It returns how many
// files stay loaded. The head trims by itself as files are loaded; Trim is
// for tests, which want a trim at a known moment.
func (h *Head) Trim(ctx context.Context) int64 {
	h.trimming.Store(true)
	defer h.trimming.Store(false)
	h.trim(ctx)
	return h.loadedLeaves.Load()
}

// Loaded is how many files, symlinks and special files the head holds.
func (h *Head) Loaded() int64 { return h.loadedLeaves.Load() }

func (h *Head) trim(ctx context.Context) {
	start := time.Now()
	target := h.maxLoaded * 3 / 4
	h.commitMu.Lock()
	shed := h.shed(target)
	spilled := false
	if h.loadedLeaves.Load() > target {
		if err := h.spill(ctx); err != nil {
			h.log.Warn("the head could not store the trees of changed directories to free memory; it keeps them loaded", "err", err)
		} else {
			spilled = true
			shed = append(shed, h.shed(target)...)
		}
	}
	h.commitMu.Unlock()
	names := 0
	for _, d := range shed {
		for _, name := range d.names {
			// The kernel may have forgotten the directory or the
			// name already: nothing to do then.
			_ = d.dir.NotifyEntry(name)
		}
		names += len(d.names)
	}
	h.log.Debug("trimmed the head", "dirs_shed", len(shed), "files_shed", names, "stored_trees", spilled,
		"loaded", h.loadedLeaves.Load(), "took", time.Since(start))
}

// spill stores the trees of every changed directory, as a commit does,
// without a snapshot. commitMu must be held.
func (h *Head) spill(ctx context.Context) error {
	h.treeMu.Lock()
	defer h.treeMu.Unlock()
	w := &treeWalk{names: map[uint64]uint32{}}
	_, err := h.saveDir(ctx, h.root, w)
	if err != nil {
		h.lookAtEverything() // some directories may have been marked clean on the way
	}
	return err
}

// shedDir is a directory a trim shed, and the names it dropped.
type shedDir struct {
	dir   *node
	names []string
}

// shed drops the files of the least recently used clean directories until
// at most target remain loaded. commitMu must be held.
func (h *Head) shed(target int64) []shedDir {
	h.treeMu.Lock()
	defer h.treeMu.Unlock()
	if h.loadedLeaves.Load() <= target {
		return nil
	}
	var cands []*node
	var walk func(d *node)
	walk = func(d *node) {
		leaves := 0
		for _, k := range d.entryList() {
			if k.node.kind == repo.TypeDir {
				walk(k.node)
			} else {
				leaves++
			}
		}
		if leaves > 0 && d.loaded.Load() && !d.dirty.Load() && !d.subtree.IsZero() {
			cands = append(cands, d)
		}
	}
	walk(h.root)
	slices.SortFunc(cands, func(a, b *node) int { return int(a.used.Load() - b.used.Load()) })
	var out []shedDir
	for _, d := range cands {
		if h.loadedLeaves.Load() <= target {
			break
		}
		if names := d.shedFiles(); names != nil {
			out = append(out, shedDir{d, names})
		}
	}
	h.dropDirs(h.root, &out)
	return out
}

// dirGhost is what a directory dropped whole leaves in its parent: its
// inode number, the node for as long as anything else holds it, and its
// own shed state, so that it comes back as it was.
type dirGhost struct {
	ino  uint64
	ref  weak.Pointer[node]
	inos []uint64
	refs []weak.Pointer[node]
	dirs map[string]*dirGhost
}

// restore gives directory d, back from g, its shed state; h.nsMu must be
// held.
func (g *dirGhost) restore(d *node) {
	d.shedIno, d.shedRef, d.shedDirs = g.inos, g.refs, g.dirs
}

// dropDirs drops whole, below d, every subdirectory that holds nothing
// (not loaded, no entries kept) of a clean directory that is shed or has
// no files loaded, leaving a ghost in its place. That frees its node and
// what go-fuse keeps in it for the kernel, which grows with every name
// ever looked up in it.
// treeMu must be held exclusively.
func (h *Head) dropDirs(d *node, out *[]shedDir) {
	for _, k := range d.entryList() {
		if k.node.kind == repo.TypeDir {
			h.dropDirs(k.node, out)
		}
	}
	if d.dirty.Load() || d.subtree.IsZero() {
		return // only a clean directory's tree block names all it has
	}
	// Only a directory that was loaded is worth dropping: one never
	// loaded costs its node alone, and the kernel would have to look it
	// up again.
	droppable := func(c *node) bool {
		return c.kind == repo.TypeDir && c.opened.Load() && !c.loaded.Load() && !c.dirty.Load() && len(c.kids) == 0 && !c.subtree.IsZero()
	}
	if d.loaded.Load() {
		// A directory whose files are all shed already, or that
		// never had any (the root of many trees), is shed too when
		// that lets a subdirectory go: it costs a read of its tree
		// block when next used.
		h.nsMu.RLock()
		files, some := 0, false
		for _, c := range d.kids {
			if c.kind != repo.TypeDir {
				files++
			}
			some = some || droppable(c)
		}
		h.nsMu.RUnlock()
		if files > 0 || !some || d.shedFiles() == nil {
			return
		}
	}
	h.nsMu.Lock()
	var names []string
	for name, c := range d.kids { // subdirectories only: d is shed
		if !droppable(c) {
			continue
		}
		if d.shedDirs == nil {
			d.shedDirs = make(map[string]*dirGhost)
		}
		d.shedDirs[name] = &dirGhost{ino: c.StableAttr().Ino, ref: weak.Make(c), inos: c.shedIno, refs: c.shedRef, dirs: c.shedDirs}
		delete(d.kids, name)
		names = append(names, name)
	}
	h.nsMu.Unlock()
	if len(names) > 0 {
		*out = append(*out, shedDir{d, names})
	}
}

// shedFiles drops a clean directory's files, keeping its subdirectories,
// and returns the names dropped; nil if it cannot be shed: it holds a file
// with hard links (the head tracks those by identity) or one not
// finished. treeMu must be held exclusively.
func (d *node) shedFiles() []string {
	h := d.h
	h.nsMu.Lock()
	defer h.nsMu.Unlock()
	names := make([]string, 0, len(d.kids))
	for name, c := range d.kids {
		if c.kind == repo.TypeDir {
			names = append(names, name)
			continue
		}
		c.mu.Lock()
		busy := c.link != 0 || c.writer != nil || c.writers > 0
		c.mu.Unlock()
		if busy {
			return nil
		}
		names = append(names, name)
	}
	slices.Sort(names) // the order of the tree's entries
	d.shedIno = make([]uint64, len(names))
	d.shedRef = make([]weak.Pointer[node], len(names))
	files := names[:0:0]
	for i, name := range names {
		c := d.kids[name]
		if c.kind == repo.TypeDir {
			continue
		}
		d.shedIno[i] = c.StableAttr().Ino
		d.shedRef[i] = weak.Make(c)
		delete(d.kids, name)
		files = append(files, name)
	}
	d.loaded.Store(false)
	h.loadedLeaves.Add(-int64(len(files)))
	return files
}
