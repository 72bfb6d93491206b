package fs

// Change tracking: a commit stores again only the trees of directories
// whose entries changed, so a snapshot's cost follows what changed, not
// the size of the tree. A directory is dirty when an entry was added,
// removed or renamed in it, or an entry's attributes or contents changed;
// marking walks up to the root, so a clean directory has a clean subtree.

// dirtyUp marks n and every directory above it.
func (n *node) dirtyUp() {
	for d := n; d != nil; d = d.parentNode() {
		d.dirty.Store(true)
	}
}

// parentNode is the directory holding n (one of them, for a hard link),
// or nil for the root.
func (n *node) parentNode() *node {
	_, p := n.Parent()
	if p == nil {
		return nil
	}
	return asNode(p.Operations())
}

// attrsChanged records that n's own entry changed (attributes, extended
// attributes or contents). A file with several hard links has entries in
// several directories, of which only one is known here, so the next commit
// looks at every loaded directory. mu must be held.
func (n *node) attrsChanged() {
	n.h.touch()
	if n.link != 0 && n.h.linkCount(n.link) > 1 {
		n.h.mu.Lock()
		n.h.everything = true
		n.h.mu.Unlock()
	}
	if p := n.parentNode(); p != nil {
		p.dirtyUp()
	}
}

// renamed records the directories of a rename whose entries go-fuse moves
// after the handler returns.
func (h *Head) renamed(from, to *node) {
	h.mu.Lock()
	h.renames = append(h.renames, from, to)
	h.mu.Unlock()
}

// redirtyRenames marks again the directories of renames recorded before
// this commit began: their move may have landed after the commit read
// them, and the next commit must look. Called with treeMu held.
func (h *Head) redirtyRenames() {
	h.mu.Lock()
	dirs := h.renames
	h.renames = nil
	h.mu.Unlock()
	for _, d := range dirs {
		d.dirtyUp()
	}
}
