package fs

import (
	"context"
	"maps"

	"coffer/repo"
)

// Commit writes the head as a new snapshot and returns it once the
// snapshot and everything it references are durable. Files still open for
// writing are left out: a snapshot holds the files closed before it. A
// commit whose parent is not the repository's latest snapshot is logged.
func (h *Head) Commit(ctx context.Context, tags []string) (*repo.Snapshot, error) {
	h.commitMu.Lock()
	defer h.commitMu.Unlock()
	h.awaitReleases()
	if snaps, err := h.repo.Snapshots(ctx); err != nil {
		h.log.Warn("could not check that the head is on the latest snapshot", "err", err)
	} else {
		h.mu.Lock()
		base := h.base
		h.mu.Unlock()
		h.reportFork(snaps, base)
	}
	snap, err := h.capture(ctx, true)
	if err != nil {
		return nil, err
	}
	snap.Tags = tags
	if err := h.repo.SaveSnapshot(ctx, snap); err != nil {
		h.touch() // still uncommitted: an unmount must try again
		return nil, err
	}
	h.mu.Lock()
	h.base = snap
	h.mu.Unlock()
	h.snapshots.add(snap)
	return snap, nil
}

// Base is the ID of the snapshot the head started from, or last
// committed; "" if there is none. A prune must not remove it while the
// mount runs: the head's unchanged subtrees are its trees.
func (h *Head) Base() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.base == nil {
		return ""
	}
	return h.base.ID
}

// Changed reports whether the head differs from the snapshot it started
// from (or holds anything, if there is none).
func (h *Head) Changed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// capture stores the tree's directories as tree blocks, holding the tree
// still while it reads it.
func (h *Head) capture(ctx context.Context, commit bool) (*repo.Snapshot, error) {
	h.treeMu.Lock()
	defer h.treeMu.Unlock()
	h.mu.Lock()
	all := h.everything
	h.everything = false
	h.mu.Unlock()
	w := &treeWalk{all: all, names: map[uint64]uint32{}}
	root, err := h.saveDir(ctx, h.root, w)
	if err == nil && all && h.linkNamesUnloaded(w) {
		// A hard-linked file changed whose other names lie in
		// directories not loaded yet: their entries must change too.
		w = &treeWalk{all: true, load: true, names: map[uint64]uint32{}}
		root, err = h.saveDir(ctx, h.root, w)
	}
	if err != nil {
		h.lookAtEverything() // some directories may have been marked clean on the way
		return nil, err
	}
	h.mu.Lock()
	links := maps.Clone(h.links)
	parent := ""
	if h.base != nil {
		parent = h.base.ID
	}
	if commit {
		h.changed = w.open > 0 // files still being written are news for the next
	}
	h.mu.Unlock()
	linksID, err := h.repo.SaveLinks(ctx, links)
	if err != nil {
		return nil, err
	}
	h.root.mu.Lock()
	rootNode := h.root.toRepo("")
	h.root.mu.Unlock()
	return &repo.Snapshot{
		Time:   h.clock().UTC(),
		Host:   h.host,
		Tree:   root.Subtree,
		Root:   rootNode,
		Links:  linksID,
		Files:  root.Files,
		Size:   root.Bytes,
		Parent: parent,
	}, nil
}

// saveDir returns a directory's tree ID and totals, storing its tree (and
// those below it) if it was loaded. An unloaded directory is unchanged and
// costs nothing.
func (h *Head) saveDir(ctx context.Context, n *node, w *treeWalk) (repo.Node, error) {
	clean := !n.dirty.Load() && !w.all && !n.subtree.IsZero()
	// A shed directory that is dirty has changes below it, in the
	// subdirectories it kept: load it to store them.
	if !n.loaded.Load() && (w.load || n.dirty.Load() && !n.subtree.IsZero()) {
		if errno := n.load(ctx); errno != 0 {
			return repo.Node{}, errno
		}
	}
	if !n.loaded.Load() || clean {
		return repo.Node{Subtree: n.subtree, Files: n.files, Bytes: n.bytes}, nil
	}
	n.dirty.Store(false) // before reading: a change from now on marks it again
	openBefore := w.open
	var t repo.Tree
	var files, bytes uint64
	for _, k := range n.entryList() {
		name, c := k.name, k.node
		c.mu.Lock()
		if c.link != 0 {
			w.names[c.link]++ // before a file still open is skipped: its names are known
		}
		if c.kind == repo.TypeFile && c.writer != nil {
			if c.writers > 0 {
				c.mu.Unlock()
				w.open++
				continue // still being written
			}
			if err := c.finish(ctx); err != nil {
				c.mu.Unlock()
				return repo.Node{}, err
			}
		}
		e := c.toRepo(name)
		c.mu.Unlock()
		if c.kind == repo.TypeDir {
			sub, err := h.saveDir(ctx, c, w)
			if err != nil {
				return repo.Node{}, err
			}
			e.Subtree, e.Files, e.Bytes = sub.Subtree, sub.Files, sub.Bytes
			files, bytes = files+sub.Files, bytes+sub.Bytes
		} else if c.kind == repo.TypeFile {
			files, bytes = files+1, bytes+e.Size
		}
		t.Nodes = append(t.Nodes, e)
	}
	id, err := h.repo.SaveTree(ctx, &t)
	if err != nil {
		n.dirty.Store(true)
		return repo.Node{}, err
	}
	if w.open > openBefore {
		n.dirty.Store(true) // files left out must be visited next time
	}
	n.subtree, n.files, n.bytes = id, files, bytes
	return repo.Node{Subtree: n.subtree, Files: files, Bytes: bytes}, nil
}

// lookAtEverything makes the next commit visit every loaded directory,
// dirty or not.
func (h *Head) lookAtEverything() {
	h.mu.Lock()
	h.everything = true
	h.mu.Unlock()
}

// treeWalk is one commit's pass over the tree.
type treeWalk struct {
	all   bool              // visit every loaded directory, dirty or not
	load  bool              // load and visit unloaded directories too
	open  int               // files left out because they are still open for writing
	names map[uint64]uint32 // names seen per hard-link identity
}

// linkNamesUnloaded reports whether a loaded hard-linked file (the only
// kind that can have changed) has names the walk did not see: names in
// directories that are not loaded.
func (h *Head) linkNamesUnloaded(w *treeWalk) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for link := range h.linked {
		if w.names[link] < h.links[link] {
			return true
		}
	}
	return false
}

// toRepo describes n for a tree; mu must be held.
func (n *node) toRepo(name string) repo.Node {
	e := repo.Node{
		Name: name, Type: n.kind, Mode: n.mode, UID: n.uid, GID: n.gid,
		Mtime: n.mtime, Atime: n.atime, Ctime: n.ctime,
		Rdev: n.rdev, Target: n.target, Link: n.link,
	}
	if n.kind == repo.TypeFile {
		e.Size, e.Blocks = uint64(n.size), n.blocks
	}
	for k, v := range n.xattrs {
		e.Xattrs = append(e.Xattrs, repo.Xattr{Name: k, Value: v})
	}
	sortXattrs(e.Xattrs)
	return e
}

// Checkpoint stores the head's trees, makes them and every block they name
// durable, and returns a record from which a new daemon can resume the
// head (HeadOptions.Resume). It commits no snapshot.
func (h *Head) Checkpoint(ctx context.Context) (*repo.Snapshot, error) {
	h.commitMu.Lock()
	defer h.commitMu.Unlock()
	c, err := h.capture(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := h.repo.Flush(ctx); err != nil {
		return nil, err
	}
	return c, nil
}
