package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"weak"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/cipher"
	"coffer/repo"
)

// node is one entry of the head: a directory, file, symlink or special
// file. One type serves all kinds so hard links and commits treat every
// entry alike; the kind is fixed at creation.
type node struct {
	fusefs.Inode
	h *Head

	mu     sync.Mutex
	kind   repo.NodeType     // fixed at creation
	mode   uint32            // guarded by mu; permission bits only (07777)
	uid    uint32            // guarded by mu
	gid    uint32            // guarded by mu
	mtime  int64             // guarded by mu; Unix ns
	atime  int64             // guarded by mu
	ctime  int64             // guarded by mu
	rdev   uint64            // guarded by mu
	target string            // guarded by mu; symlink target
	xattrs map[string][]byte // guarded by mu
	link   uint64            // guarded by mu; hard-link identity, 0 if never linked
	orphan bool              // guarded by mu; its last name is gone, handles may remain

	// parent is the directory holding n (one of them, for a hard link);
	// nil for the root. It changes only under treeMu (a rename).
	parent atomic.Pointer[node]

	// Directories: the tree block they were loaded from, and their
	// entries once loaded (see shed.go for what a shed one keeps).
	loadMu  sync.Mutex       // serialises loading the directory
	subtree cipher.ID        // tree ID; zero for a directory created in the head
	kids    map[string]*node // guarded by h.nsMu; every entry while loaded, only subdirectories while shed
	loaded  atomic.Bool
	dirty   atomic.Bool  // entries below changed since the last commit
	used    atomic.Int64 // the head's useClock when it was last used
	files   uint64       // subtree totals stored with an unloaded directory
	bytes   uint64
	name    string // its name in parent; guarded by h.nsMu
	// lookedUp is when a lookup last returned n (Unix ns); see unused.
	lookedUp atomic.Int64
	// opened: the directory was loaded since this node was made, so
	// go-fuse may keep state for its entries in it.
	opened atomic.Bool
	// While shed: the inode number of each entry of subtree, in the
	// tree's order (0 for a subdirectory, which stays in kids or is in
	// shedDirs), and the node that served it, for as long as anything
	// else holds that node; and the subdirectories dropped whole.
	shedIno  []uint64
	shedRef  []weak.Pointer[node]
	shedDirs map[string]*dirGhost

	// Files: committed contents, or a writer while the file is new.
	blocks  []repo.BlockRef  // guarded by mu
	size    int64            // guarded by mu; size of blocks
	writer  *repo.FileWriter // guarded by mu; non-nil while writable
	writers int              // guarded by mu; open write handles
	reader  *repo.FileReader // guarded by mu; lazily built for blocks
}

var (
	_ = (fusefs.NodeGetattrer)((*node)(nil))
	_ = (fusefs.NodeSetattrer)((*node)(nil))
)

func typeBits(k repo.NodeType) uint32 {
	switch k {
	case repo.TypeDir:
		return syscall.S_IFDIR
	case repo.TypeSymlink:
		return syscall.S_IFLNK
	case repo.TypeFIFO:
		return syscall.S_IFIFO
	case repo.TypeChar:
		return syscall.S_IFCHR
	case repo.TypeBlock:
		return syscall.S_IFBLK
	case repo.TypeSocket:
		return syscall.S_IFSOCK
	}
	return syscall.S_IFREG
}

func kindOf(mode uint32) repo.NodeType {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return repo.TypeDir
	case syscall.S_IFLNK:
		return repo.TypeSymlink
	case syscall.S_IFIFO:
		return repo.TypeFIFO
	case syscall.S_IFCHR:
		return repo.TypeChar
	case syscall.S_IFBLK:
		return repo.TypeBlock
	case syscall.S_IFSOCK:
		return repo.TypeSocket
	}
	return repo.TypeFile
}

// fileSize is the file's current length; mu must be held.
func (n *node) fileSize() int64 {
	switch {
	case n.writer != nil:
		return n.writer.Size()
	case n.kind == repo.TypeSymlink:
		return int64(len(n.target))
	}
	return n.size
}

// fillAttr writes n's attributes; mu must be held.
func (n *node) fillAttr(out *fuse.Attr) {
	out.Ino = n.StableAttr().Ino
	out.Mode = typeBits(n.kind) | n.mode
	out.Uid, out.Gid = n.uid, n.gid
	out.Size = uint64(n.fileSize())
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 1 << 20
	out.Rdev = uint32(n.rdev)
	// A directory reports 1, the conventional "not counted" value that
	// find and fts handle. A true count (2 plus subdirectories) needs a
	// directory's entries, which for one not loaded yet means reading its
	// tree block on every stat of its parent's listing; and a count true
	// only for loaded directories would be worse than none: some tree
	// walkers trust a count of 2 or more to stop looking for
	// subdirectories once they have seen that many.
	out.Nlink = 1
	switch {
	case n.orphan:
		out.Nlink = 0
	case n.link != 0:
		out.Nlink = n.h.linkCount(n.link)
	}
	setTimes(out, n.atime, n.mtime, n.ctime)
}

func setTimes(out *fuse.Attr, atime, mtime, ctime int64) {
	out.Atime, out.Atimensec = uint64(atime/1e9), uint32(atime%1e9)
	out.Mtime, out.Mtimensec = uint64(mtime/1e9), uint32(mtime%1e9)
	out.Ctime, out.Ctimensec = uint64(ctime/1e9), uint32(ctime%1e9)
}

// Getattr reports n's attributes.
func (n *node) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fillAttr(&out.Attr)
	return 0
}

// Setattr changes mode, owner, times or size. A committed file's size can
// only become 0, which starts a new file in its place: its old bytes stay
// in the snapshots that hold them. Through a sealed handle (ftruncate on
// a finished file opened for writing) no size change is allowed.
func (n *node) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.pin(ctx); errno != 0 {
		return errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.h.now()
	if size, ok := in.GetSize(); ok {
		if h, _ := f.(*handle); h != nil && h.sealed {
			return syscall.EPERM
		}
		if errno := n.truncate(ctx, int64(size)); errno != 0 {
			return errno
		}
		n.mtime = now
	}
	mode, chmod := in.GetMode()
	if chmod {
		n.mode = mode & 07777
		n.chmodACL()
	}
	uid, chownU := in.GetUID()
	gid, chownG := in.GetGID()
	if chownU {
		n.uid = uid
	}
	if chownG {
		n.gid = gid
	}
	if (chownU || chownG || in.Valid&fuse.FATTR_KILL_SUIDGID != 0) && !chmod {
		n.killSetID()
	}
	if t, ok := in.GetMTime(); ok {
		n.mtime = t.UnixNano()
	}
	if t, ok := in.GetATime(); ok {
		n.atime = t.UnixNano()
	}
	n.ctime = now
	n.attrsChanged()
	n.fillAttr(&out.Attr)
	out.SetTimeout(time.Minute)
	return 0
}

// killSetID clears the set-ID bits after a chown (or a truncation the
// kernel marks), as Linux does: the kernel leaves it to coffer
// (HANDLE_KILLPRIV_V2). Set-user-ID always
// goes from a non-directory; set-group-ID only with group execute
// (without it the bit marks mandatory locking, which root's chown keeps).
// mu must be held.
func (n *node) killSetID() {
	if n.kind == repo.TypeDir {
		return
	}
	n.mode &^= syscall.S_ISUID
	if n.mode&syscall.S_IXGRP != 0 {
		n.mode &^= syscall.S_ISGID
	}
}

// truncate applies a size change; mu must be held.
func (n *node) truncate(ctx context.Context, size int64) syscall.Errno {
	if n.kind != repo.TypeFile {
		return syscall.EISDIR
	}
	if n.writer != nil {
		return toErrno(n.h.log, "truncate", n.writer.Truncate(ctx, size))
	}
	switch {
	case size == n.size:
		return 0
	case size == 0:
		n.startWriter()
		return 0
	}
	return syscall.EPERM
}

// startWriter makes n a new, empty, writable file; mu must be held.
func (n *node) startWriter() {
	n.writer = n.h.repo.NewFileWriter()
	n.blocks, n.size, n.reader = nil, 0, nil
}

// unused reports whether nothing but coffer holds n: the kernel forgot it
// and everything below it. go-fuse takes a node a lookup returns only
// after the lookup has returned, and reports it forgotten until then, so a
// node looked up in the last seconds counts as used.
func (n *node) unused() bool {
	return n.EmbeddedInode().Forgotten() && time.Since(time.Unix(0, n.lookedUp.Load())) > 10*time.Second
}
