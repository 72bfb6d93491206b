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
		n.h.mu.Lock()
		n.h.everything = true
		n.h.mu.Unlock()
	}
	if p := n.parent.Load(); p != nil {
		p.dirtyUp()
	}
}

// pin loads the directory holding n before n changes, so the change is
// kept: a shed directory (see shed.go) holds its files only in its tree
// block, and would serve a file forgotten since from that block. Loading
// it takes n back among its entries. A directory needs no pin: a shed
// directory keeps its subdirectories, and a commit loads a shed directory
// that is dirty. Called with treeMu held shared, so no trim sheds the
// directory again before the change marks it dirty.
func (n *node) pin(ctx context.Context) syscall.Errno {
	if n.kind == repo.TypeDir {
		return 0
	}
	if p := n.parent.Load(); p != nil {
		return p.load(ctx)
	}
	return 0
}
