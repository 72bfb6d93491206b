package fs

import (
	"context"
	"syscall"

	"coffer/repo"
)

// Change tracking: a commit stores again only the trees of directories
// whose entries changed, so a snapshot's cost follows what changed, not
// the size of the tree. A directory is dirty when an entry was added,
// removed or renamed in it, or an entry's attributes or contents changed;
// marking walks up to the root, so a clean directory has a clean subtree.

// dirtyUp marks n and every directory above it.
func (n *node) dirtyUp() {
	for d := n; d != nil; d = d.parent.Load() {
		d.dirty.Store(true)
	}
}

// attrsChanged records that n's own entry changed (attributes, extended
// attributes or contents). A file with hard links has entries in several
// directories, of which only one is known here (and not even that one
// once the name it was loaded under is gone: its parent is not updated
// then), so the next commit looks at every loaded directory. mu must be
// held, and n pinned (see pin) before the change.
func (n *node) attrsChanged() {
	n.h.touch()
	if n.link != 0 {
		n.h.lookAtEverything()
	}
	if p := n.parent.Load(); p != nil {
		p.dirtyUp()
	}
}

// pin makes sure n is among its directory's entries, and that directory
// among its own, up to the root, before n changes, so the change is kept
// and a commit finds it: a shed directory (see shed.go) holds its files
// only in its tree block, and a directory dropped whole only in its
// parent's; either would serve a node forgotten since from its tree.
// Loading them takes n (which the caller holds) back among the entries.
// Called with treeMu held shared, so no trim sheds them again before the
// change marks them dirty.
func (n *node) pin(ctx context.Context) syscall.Errno {
	if n.kind == repo.TypeDir {
		return n.attach(ctx)
	}
	if p := n.parent.Load(); p != nil {
		return p.load(ctx)
	}
	return 0
}

// attach makes sure directory n is among its parent's entries (and that
// one among its own, and so on), loading its parent if a trim dropped n
// from it. A directory that is loaded, or holds any entry, always is.
func (n *node) attach(ctx context.Context) syscall.Errno {
	p := n.parent.Load()
	if p == nil {
		return 0
	}
	n.h.nsMu.RLock()
	in := p.kids[n.name] == n
	n.h.nsMu.RUnlock()
	if in {
		return 0
	}
	// Loading p takes n back (n is alive: the caller holds it). A
	// directory removed meanwhile stays out, which is right.
	return p.load(ctx)
}
