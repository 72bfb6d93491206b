package fs

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/repo"
)

// SnapshotsName is the hidden directory in the head's root that holds
// every snapshot. It is reachable by name but not listed.
const SnapshotsName = ".snapshots"

var (
	_ = (fusefs.NodeLookuper)((*node)(nil))
	_ = (fusefs.NodeReaddirer)((*node)(nil))
	_ = (fusefs.NodeMkdirer)((*node)(nil))
	_ = (fusefs.NodeMknoder)((*node)(nil))
	_ = (fusefs.NodeCreater)((*node)(nil))
	_ = (fusefs.NodeSymlinker)((*node)(nil))
	_ = (fusefs.NodeLinker)((*node)(nil))
	_ = (fusefs.NodeUnlinker)((*node)(nil))
	_ = (fusefs.NodeRmdirer)((*node)(nil))
	_ = (fusefs.NodeRenamer)((*node)(nil))
	_ = (fusefs.NodeReadlinker)((*node)(nil))
	_ = (fusefs.NodeStatfser)((*node)(nil))
)

func (n *node) isRoot() bool { return n == n.h.root }

// reserved reports whether name may not be created in n.
func (n *node) reserved(name string) bool { return n.isRoot() && name == SnapshotsName }

// maxNameLen is the longest name, in bytes, as on ext4: a longer one could
// never be restored there. The kernel lets FUSE names reach 1024 bytes.
const maxNameLen = 255

// tooLong reports whether a name is longer than any name may be.
func tooLong(name string) bool { return len(name) > maxNameLen }

func asNode(ops fusefs.InodeEmbedder) *node {
	c, _ := ops.(*node)
	return c
}

// child returns n's entry called name, or nil.
func (n *node) child(name string) *node {
	n.h.nsMu.RLock()
	defer n.h.nsMu.RUnlock()
	return n.kids[name]
}

// setChild makes c n's entry called name (nil removes it), keeping the
// count of loaded files. treeMu must be held.
func (n *node) setChild(name string, c *node) {
	h := n.h
	h.nsMu.Lock()
	defer h.nsMu.Unlock()
	if old := n.kids[name]; old != nil && old.kind != repo.TypeDir {
		h.loadedLeaves.Add(-1)
	}
	if c == nil {
		delete(n.kids, name)
		return
	}
	if n.kids == nil {
		n.kids = make(map[string]*node)
	}
	n.kids[name] = c
	if c.kind == repo.TypeDir {
		c.name = name
	} else {
		h.loadedLeaves.Add(1)
		h.trimSoon()
	}
}

// namedNode is one entry of a directory.
type namedNode struct {
	name string
	node *node
}

// entryList is a copy of n's entries, to walk without holding nsMu.
func (n *node) entryList() []namedNode {
	n.h.nsMu.RLock()
	defer n.h.nsMu.RUnlock()
	out := make([]namedNode, 0, len(n.kids))
	for name, c := range n.kids {
		out = append(out, namedNode{name, c})
	}
	return out
}

// entries is how many entries n holds.
func (n *node) entries() int {
	n.h.nsMu.RLock()
	defer n.h.nsMu.RUnlock()
	return len(n.kids)
}

// path names n from the mount's root ("/dir/file"), for messages: it
// searches each directory on the way for n's name.
func (n *node) path() string {
	if n.parent.Load() == nil {
		return "/"
	}
	h := n.h
	h.nsMu.RLock()
	defer h.nsMu.RUnlock()
	var parts []string
	for c, p := n, n.parent.Load(); p != nil; c, p = p, p.parent.Load() {
		name := "?"
		for k, v := range p.kids {
			if v == c {
				name = k
				break
			}
		}
		parts = append(parts, name)
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// Lookup finds a child, loading the directory on first use.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if tooLong(name) {
		return nil, syscall.ENAMETOOLONG
	}
	if n.reserved(name) {
		return n.h.snapshots.attach(ctx, n.EmbeddedInode(), out), 0
	}
	var c *node
	errno := n.readEntries(ctx, func(kids map[string]*node, loaded bool) bool {
		c = kids[name]
		return c != nil || loaded
	})
	if errno != 0 {
		return nil, errno
	}
	if c == nil {
		return nil, syscall.ENOENT
	}
	return n.entry(c, out), 0
}

// readEntries loads n and calls read with its entries, under nsMu, until
// read is satisfied. Lookups and listings hold no treeMu, so a trim may
// shed n between the load and the read; read sees whether n is still
// loaded (a shed directory still holds its subdirectories) and says
// whether to load it again.
func (n *node) readEntries(ctx context.Context, read func(kids map[string]*node, loaded bool) bool) syscall.Errno {
	for {
		if errno := n.load(ctx); errno != 0 {
			return errno
		}
		n.h.nsMu.RLock()
		done := read(n.kids, n.loaded.Load())
		n.h.nsMu.RUnlock()
		if done {
			return 0
		}
	}
}

// Readdir lists the directory; .snapshots is never listed.
func (n *node) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	var entries []fuse.DirEntry
	errno := n.readEntries(ctx, func(kids map[string]*node, loaded bool) bool {
		if !loaded {
			return false
		}
		entries = make([]fuse.DirEntry, 0, len(kids))
		for name, c := range kids {
			a := c.StableAttr()
			entries = append(entries, fuse.DirEntry{Name: name, Mode: a.Mode, Ino: a.Ino})
		}
		return true
	})
	if errno != 0 {
		return nil, errno
	}
	return fusefs.NewListDirStream(entries), 0
}

// newChild creates a node of kind in n and records the change.
//
// The child is attached here, under treeMu: a commit must never see a
// directory marked clean whose entries are about to change. (go-fuse adds
// it to its own tree after the call returns; coffer's entries are kids.)
// init, if not nil, completes the node before anyone can see it.
func (n *node) newChild(ctx context.Context, name string, kind repo.NodeType, mode uint32, init func(c *node)) (*node, syscall.Errno) {
	if tooLong(name) {
		return nil, syscall.ENAMETOOLONG
	}
	if n.reserved(name) {
		return nil, syscall.EEXIST
	}
	if errno := n.load(ctx); errno != 0 {
		return nil, errno
	}
	if n.child(name) != nil {
		return nil, syscall.EEXIST
	}
	now := n.h.now()
	c := &node{h: n.h, kind: kind, mode: mode & 07777, mtime: now, atime: now, ctime: now}
	if caller, ok := fuse.FromContext(ctx); ok {
		c.uid, c.gid = caller.Uid, caller.Gid
	}
	if kind == repo.TypeDir {
		c.kids = make(map[string]*node)
		c.loaded.Store(true)
	}
	c.parent.Store(n)
	c.inheritACL(n)
	if init != nil {
		init(c)
	}
	n.NewInode(ctx, c, fusefs.StableAttr{Mode: typeBits(kind), Ino: n.h.nextIno()})
	n.setChild(name, c)
	n.changedEntries()
	return c, 0
}

// changedEntries stamps n's times after its entries changed, and marks
// n's tree (and those above) for the next commit.
func (n *node) changedEntries() {
	now := n.h.now()
	n.mu.Lock()
	n.mtime, n.ctime = now, now
	n.mu.Unlock()
	n.h.touch()
	n.dirtyUp()
}

func (n *node) entry(c *node, out *fuse.EntryOut) *fusefs.Inode {
	c.lookedUp.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.fillAttr(&out.Attr)
	c.mu.Unlock()
	return c.EmbeddedInode()
}

// Mkdir creates an empty directory.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	c, errno := n.newChild(ctx, name, repo.TypeDir, mode, nil)
	if errno != 0 {
		return nil, errno
	}
	return n.entry(c, out), 0
}

// Mknod creates a FIFO, socket or device node.
func (n *node) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	kind := kindOf(mode)
	if kind == repo.TypeDir || kind == repo.TypeSymlink {
		return nil, syscall.EINVAL
	}
	c, errno := n.newChild(ctx, name, kind, mode, func(c *node) { c.rdev = uint64(dev) })
	if errno != 0 {
		return nil, errno
	}
	return n.entry(c, out), 0
}

// Create makes a new file, open for writing.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if n.h.refuseWrites() {
		return nil, nil, 0, errStopping
	}
	c, errno := n.newChild(ctx, name, repo.TypeFile, mode, func(c *node) {
		c.startWriter()
		c.writers++
	})
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return n.entry(c, out), &handle{write: true}, writeOpenFlags(flags), 0
}

// Symlink creates a symbolic link.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	c, errno := n.newChild(ctx, name, repo.TypeSymlink, 0777, func(c *node) { c.target = target })
	if errno != 0 {
		return nil, errno
	}
	return n.entry(c, out), 0
}

// Readlink returns a symlink's target.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []byte(n.target), 0
}

// Link gives an existing file another name.
func (n *node) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	t := asNode(target)
	if t == nil {
		return nil, syscall.EXDEV
	}
	if t.kind == repo.TypeDir {
		return nil, syscall.EPERM
	}
	if tooLong(name) {
		return nil, syscall.ENAMETOOLONG
	}
	if errno := n.load(ctx); errno != 0 {
		return nil, errno
	}
	if errno := t.pin(ctx); errno != 0 {
		return nil, errno
	}
	if n.reserved(name) || n.child(name) != nil {
		return nil, syscall.EEXIST
	}
	t.mu.Lock()
	n.h.addLink(t)
	t.ctime = n.h.now()
	t.attrsChanged() // every directory holding t now names its link identity
	t.mu.Unlock()
	n.setChild(name, t) // under treeMu; see newChild
	n.changedEntries()
	return n.entry(t, out), 0
}

// Unlink removes a name; the file's bytes stay in earlier snapshots.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.load(ctx); errno != 0 {
		return errno
	}
	c := n.child(name)
	if c == nil {
		return syscall.ENOENT
	}
	if c.kind == repo.TypeDir {
		return syscall.EISDIR
	}
	n.h.dropName(c)
	n.setChild(name, nil) // under treeMu; see newChild
	n.changedEntries()
	return 0
}

// dropName records that one of c's names went away (unlink, or a rename
// over it). As on Linux its link count drops and its ctime moves. A file
// left without a name is an orphan: it reports no links and serves the
// handles still open on it until they close. treeMu must be held.
func (h *Head) dropName(c *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctime = h.now()
	if c.link == 0 || h.linkCount(c.link) <= 1 {
		c.orphan = true
	} else {
		// Before the count drops, so the next commit rewrites every
		// directory that names c (see attrsChanged).
		c.attrsChanged()
	}
	h.dropLink(c)
}

// Rmdir removes an empty directory.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.load(ctx); errno != 0 {
		return errno
	}
	c := n.child(name)
	if c == nil {
		return syscall.ENOENT
	}
	if c.kind != repo.TypeDir {
		return syscall.ENOTDIR
	}
	if errno := c.load(ctx); errno != 0 {
		return errno
	}
	if c.entries() > 0 {
		return syscall.ENOTEMPTY
	}
	n.setChild(name, nil) // under treeMu; see newChild
	n.changedEntries()
	return 0
}
