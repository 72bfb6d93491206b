// Command memfs serves a file system that keeps everything in memory and
// does no other work, for figures 2 and 7 of the benchmark: the time that
// rsync, and a loop that creates small files, spend in FUSE round trips
// alone. It asks the kernel for what coffer's head asks (a minute's cache
// of entries, attributes and misses; direct I/O for a file opened
// write-only; a FLUSH at every close), so a file costs it the same
// requests, each answered at once. It keeps modes, owners and times, so
// an unchanged rsync finds nothing to copy, and nothing else: no hard
// links, no extended attributes, no durability.
//
//	memfs MOUNTPOINT
//
// It serves until the mount is unmounted.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a directory (its entries are go-fuse's children), a regular
// file or a symbolic link: the kernel sends each only what its kind takes.
type node struct {
	fusefs.Inode
	mu                  sync.Mutex
	kind                uint32 // S_IFDIR, S_IFREG or S_IFLNK
	mode                uint32 // permission bits
	uid, gid            uint32
	atime, mtime, ctime time.Time
	data                []byte // a file's bytes, a link's target
}

var (
	_ fusefs.NodeCreater    = (*node)(nil)
	_ fusefs.NodeMkdirer    = (*node)(nil)
	_ fusefs.NodeSymlinker  = (*node)(nil)
	_ fusefs.NodeRenamer    = (*node)(nil)
	_ fusefs.NodeUnlinker   = (*node)(nil)
	_ fusefs.NodeRmdirer    = (*node)(nil)
	_ fusefs.NodeGetattrer  = (*node)(nil)
	_ fusefs.NodeSetattrer  = (*node)(nil)
	_ fusefs.NodeOpener     = (*node)(nil)
	_ fusefs.NodeReader     = (*node)(nil)
	_ fusefs.NodeWriter     = (*node)(nil)
	_ fusefs.NodeFlusher    = (*node)(nil)
	_ fusefs.NodeReadlinker = (*node)(nil)
)

// newNode makes a node of kind with mode, its creator as owner, and
// times of now.
func newNode(ctx context.Context, kind, mode uint32, data []byte) *node {
	now := time.Now()
	n := &node{kind: kind, mode: mode & 0o7777, atime: now, mtime: now, ctime: now, data: data}
	if c, ok := fuse.FromContext(ctx); ok {
		n.uid, n.gid = c.Uid, c.Gid
	}
	return n
}

func (n *node) attr(a *fuse.Attr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a.Mode = n.kind | n.mode
	a.Owner = fuse.Owner{Uid: n.uid, Gid: n.gid}
	a.SetTimes(&n.atime, &n.mtime, &n.ctime)
	a.Size = uint64(len(n.data))
	a.Nlink = 1
	if n.kind == syscall.S_IFDIR {
		a.Nlink = 2
	}
}

func (n *node) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.attr(&out.Attr)
	return 0
}

// Setattr applies a SETATTR's mode, owner, times and a file's size.
func (n *node) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	if v, ok := in.GetMode(); ok {
		n.mode = v & 0o7777
	}
	if v, ok := in.GetUID(); ok {
		n.uid = v
	}
	if v, ok := in.GetGID(); ok {
		n.gid = v
	}
	if v, ok := in.GetATime(); ok {
		n.atime = v
	}
	if v, ok := in.GetMTime(); ok {
		n.mtime = v
	}
	if v, ok := in.GetSize(); ok && n.kind == syscall.S_IFREG {
		n.resize(int64(v))
	}
	n.ctime = time.Now()
	n.mu.Unlock()
	n.attr(&out.Attr)
	return 0
}

// resize makes a file size bytes long; mu is held.
func (n *node) resize(size int64) {
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
		return
	}
	n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
}

// changed records a change, now, to the contents of n; mu is not held.
func (n *node) changed() {
	n.mu.Lock()
	n.mtime = time.Now()
	n.ctime = n.mtime
	n.mu.Unlock()
}

// add makes c the entry name of directory n.
func (n *node) add(ctx context.Context, name string, c *node, out *fuse.EntryOut) *fusefs.Inode {
	in := n.NewInode(ctx, c, fusefs.StableAttr{Mode: c.kind})
	n.AddChild(name, in, false)
	n.changed()
	c.attr(&out.Attr)
	return in
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if n.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	return n.add(ctx, name, newNode(ctx, syscall.S_IFDIR, mode, nil), out), 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if n.GetChild(name) != nil {
		return nil, nil, 0, syscall.EEXIST
	}
	return n.add(ctx, name, newNode(ctx, syscall.S_IFREG, mode, nil), out), nil, openFlags(flags), 0
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if n.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	return n.add(ctx, name, newNode(ctx, syscall.S_IFLNK, 0o777, []byte(target)), out), 0
}

// Rename, Unlink and Rmdir only check: go-fuse moves or drops the child
// once they succeed.
func (n *node) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if n.GetChild(name) == nil {
		return syscall.ENOENT
	}
	if old := newParent.EmbeddedInode().GetChild(newName); old != nil && old.IsDir() && len(old.Children()) > 0 {
		return syscall.ENOTEMPTY
	}
	n.changed()
	if p, ok := newParent.(*node); ok && p != n {
		p.changed()
	}
	return 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if n.GetChild(name) == nil {
		return syscall.ENOENT
	}
	n.changed()
	return 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	c := n.GetChild(name)
	switch {
	case c == nil:
		return syscall.ENOENT
	case len(c.Children()) > 0:
		return syscall.ENOTEMPTY
	}
	n.changed()
	return 0
}

// openFlags: as coffer's head, direct I/O for a file opened write-only.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		n.mu.Lock()
		n.resize(0)
		n.mu.Unlock()
	}
	return nil, openFlags(flags), 0
}

func (n *node) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if off >= int64(len(n.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(int64(len(n.data)), off+int64(len(dest)))
	return fuse.ReadResultData(append([]byte(nil), n.data[off:end]...)), 0
}

func (n *node) Write(ctx context.Context, fh fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	n.mu.Lock()
	if end := off + int64(len(data)); end > int64(len(n.data)) {
		n.resize(end)
	}
	copy(n.data[off:], data)
	n.mu.Unlock()
	n.changed()
	return uint32(len(data)), 0
}

// Flush answers, so the kernel keeps sending one at every close, as it
// does to coffer (a FLUSH answered ENOSYS once is never sent again).
func (n *node) Flush(ctx context.Context, fh fusefs.FileHandle) syscall.Errno { return 0 }

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) { return n.data, 0 }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: memfs MOUNTPOINT")
		os.Exit(2)
	}
	minute := time.Minute
	root := newNode(context.Background(), syscall.S_IFDIR, 0o755, nil)
	server, err := fusefs.Mount(os.Args[1], root, &fusefs.Options{
		MountOptions: fuse.MountOptions{FsName: "memfs", Name: "memfs"},
		EntryTimeout: &minute, AttrTimeout: &minute, NegativeTimeout: &minute,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "memfs:", err)
		os.Exit(1)
	}
	server.Wait()
}
