package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/repo"
)

// Linux renameat2 flags.
const (
	renameNoReplace = 0x1
	renameExchange  = 0x2
)

// Rename moves a name, within or across directories, replacing a target
// as POSIX says; a replaced file's bytes stay in earlier snapshots.
func (n *node) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	np := asNode(newParent)
	if np == nil {
		return syscall.EROFS // into .snapshots
	}
	if tooLong(name) || tooLong(newName) {
		return syscall.ENAMETOOLONG
	}
	if np.reserved(newName) || n.reserved(name) {
		return syscall.EPERM
	}
	if errno := np.load(ctx); errno != 0 {
		return errno
	}
	src := n.child(name)
	if src == nil {
		return syscall.ENOENT
	}
	dst := np.child(newName)
	switch {
	case flags&renameExchange != 0:
		if dst == nil {
			return syscall.ENOENT
		}
	case dst != nil && flags&renameNoReplace != 0:
		return syscall.EEXIST
	case dst == src:
		return 0
	case dst != nil:
		if errno := replaceable(ctx, src, dst); errno != 0 {
			return errno
		}
		if dst.kind != repo.TypeDir {
			n.h.dropName(dst)
		}
	}
	src.mu.Lock()
	src.ctime = n.h.now()
	src.mu.Unlock()
	n.changedEntries()
	if np != n {
		np.changedEntries()
	}
	// go-fuse moves the entry after this returns, outside treeMu (doing
	// it here would make its own move delete the destination). A commit
	// running in between waits for the move to land, and must not leave
	// these directories clean.
	n.h.renamed(n, np)
	n.h.moveAccepted(pendingMove{from: n, name: name, src: src})
	return 0
}

// pendingMove is a rename that the handler accepted and go-fuse may not
// have applied to the directories' entries yet.
type pendingMove struct {
	from *node
	name string
	src  *node
}

// landed reports whether go-fuse has moved the entries. Its move takes
// src from its old name at once (or swaps it, for an exchange), and the
// kernel keeps both directories locked until then, so nothing else puts
// another entry there meanwhile. (A later hard link back to the old name
// makes a landed move look pending; the bound in awaitMoves covers it.)
func (p *pendingMove) landed() bool { return p.from.child(p.name) != p.src }

// moveAccepted records a rename the handler accepted, forgetting those
// that have landed (so an entry renamed back to an old name later, which
// the kernel sends only after the earlier move's reply, leaves no stale
// record behind).
func (h *Head) moveAccepted(m pendingMove) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.moving[:0]
	for _, p := range h.moving {
		if !p.landed() {
			kept = append(kept, p)
		}
	}
	h.moving = append(kept, m)
}

// awaitMoves waits until every accepted rename has landed, so a commit's
// walk never sees a moving entry in both directories or in neither. The
// kernel holds both directories locked until go-fuse replies, after the
// move, so nothing else changes them meanwhile and the wait is short; its
// bound only guards against a move that never comes. Called with treeMu
// held exclusively, so no new rename starts.
func (h *Head) awaitMoves() {
	h.mu.Lock()
	moves := h.moving
	h.moving = nil
	h.mu.Unlock()
	deadline := time.Now().Add(time.Second)
	for _, p := range moves {
		for !p.landed() {
			if time.Now().After(deadline) {
				h.log.Warn("a rename did not land before the commit", "name", p.name)
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// replaceable checks that src may be renamed over dst.
func replaceable(ctx context.Context, src, dst *node) syscall.Errno {
	srcDir, dstDir := src.kind == repo.TypeDir, dst.kind == repo.TypeDir
	switch {
	case srcDir && !dstDir:
		return syscall.ENOTDIR
	case !srcDir && dstDir:
		return syscall.EISDIR
	case dstDir:
		if errno := dst.load(ctx); errno != 0 {
			return errno
		}
		if len(dst.Children()) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	return 0
}

// Statfs reports a large, mostly free filesystem: the store's capacity is
// not something coffer can know.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 40 // 4 PiB in 4 KiB blocks
	out.Bsize, out.Frsize = 4096, 4096
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<40, 1<<40
	out.NameLen = 255
	return 0
}
