package fs

import (
	"context"
	"syscall"

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
	if errno := n.load(ctx); errno != 0 {
		return errno
	}
	if errno := np.load(ctx); errno != 0 {
		return errno
	}
	src := n.child(name)
	if src == nil {
		return syscall.ENOENT
	}
	dst := np.child(newName)
	exchange := flags&renameExchange != 0
	switch {
	case exchange:
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
	now := n.h.now()
	src.mu.Lock()
	src.ctime = now
	src.mu.Unlock()
	// The entries move here, under treeMu, so a commit sees the rename
	// whole or not at all; go-fuse moves its own after this returns.
	if exchange {
		dst.mu.Lock()
		dst.ctime = now
		dst.mu.Unlock()
		n.setChild(name, dst)
		dst.parent.Store(n)
	} else {
		n.setChild(name, nil)
	}
	np.setChild(newName, src)
	src.parent.Store(np)
	n.changedEntries()
	if np != n {
		np.changedEntries()
	}
	return 0
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
		if dst.entries() > 0 {
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
