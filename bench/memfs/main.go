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

// meta is what every node keeps besides its contents.
type meta struct {
	mu                  sync.Mutex
	mode                uint32 // permission bits
	uid, gid            uint32
	atime, mtime, ctime time.Time
}

// init gives a new node its mode, its creator as owner, and times of now.
func (m *meta) init(ctx context.Context, mode uint32) {
	now := time.Now()
	m.mode, m.atime, m.mtime, m.ctime = mode&0o7777, now, now, now
	if c, ok := fuse.FromContext(ctx); ok {
		m.uid, m.gid = c.Uid, c.Gid
	}
}

// fill writes m into a, with type bits kind; mu is held.
func (m *meta) fill(a *fuse.Attr, kind uint32) {
	a.Mode = kind | m.mode
	a.Owner = fuse.Owner{Uid: m.uid, Gid: m.gid}
	a.SetTimes(&m.atime, &m.mtime, &m.ctime)
}

// set applies a SETATTR's mode, owner and times; mu is held.
func (m *meta) set(in *fuse.SetAttrIn) {
	if v, ok := in.GetMode(); ok {
		m.mode = v & 0o7777
	}
	if v, ok := in.GetUID(); ok {
		m.uid = v
	}
	if v, ok := in.GetGID(); ok {
		m.gid = v
	}
	if v, ok := in.GetATime(); ok {
		m.atime = v
	}
	if v, ok := in.GetMTime(); ok {
		m.mtime = v
	}
	m.ctime = time.Now()
}

// dir is a directory; its entries are go-fuse's children.
type dir struct {
	fusefs.Inode
	meta
}

// file is a regular file and its bytes.
type file struct {
	fusefs.Inode
	meta
	data []byte // guarded by mu
}

// link is a symbolic link.
type link struct {
	fusefs.Inode
	meta
	target []byte
}

var (
	_ fusefs.NodeCreater    = (*dir)(nil)
	_ fusefs.NodeMkdirer    = (*dir)(nil)
	_ fusefs.NodeSymlinker  = (*dir)(nil)
	_ fusefs.NodeRenamer    = (*dir)(nil)
	_ fusefs.NodeUnlinker   = (*dir)(nil)
	_ fusefs.NodeRmdirer    = (*dir)(nil)
	_ fusefs.NodeGetattrer  = (*dir)(nil)
	_ fusefs.NodeSetattrer  = (*dir)(nil)
	_ fusefs.NodeGetattrer  = (*file)(nil)
	_ fusefs.NodeSetattrer  = (*file)(nil)
	_ fusefs.NodeOpener     = (*file)(nil)
	_ fusefs.NodeReader     = (*file)(nil)
	_ fusefs.NodeWriter     = (*file)(nil)
	_ fusefs.NodeFlusher    = (*file)(nil)
	_ fusefs.NodeGetattrer  = (*link)(nil)
	_ fusefs.NodeSetattrer  = (*link)(nil)
	_ fusefs.NodeReadlinker = (*link)(nil)
)

func (d *dir) attr(a *fuse.Attr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fill(a, syscall.S_IFDIR)
	a.Nlink = 2
}

func (d *dir) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.attr(&out.Attr)
	return 0
}

func (d *dir) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	d.set(in)
	d.mu.Unlock()
	return d.Getattr(ctx, fh, out)
}

// changed records a change to d's entries.
func (d *dir) changed() {
	d.mu.Lock()
	d.mtime = time.Now()
	d.ctime = d.mtime
	d.mu.Unlock()
}

func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	c := &dir{}
	c.init(ctx, mode)
	in := d.NewInode(ctx, c, fusefs.StableAttr{Mode: syscall.S_IFDIR})
	d.AddChild(name, in, false)
	d.changed()
	c.attr(&out.Attr)
	return in, 0
}

func (d *dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, nil, 0, syscall.EEXIST
	}
	f := &file{}
	f.init(ctx, mode)
	in := d.NewInode(ctx, f, fusefs.StableAttr{Mode: syscall.S_IFREG})
	d.AddChild(name, in, false)
	d.changed()
	f.attr(&out.Attr)
	return in, nil, openFlags(flags), 0
}

func (d *dir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	l := &link{target: []byte(target)}
	l.init(ctx, 0o777)
	in := d.NewInode(ctx, l, fusefs.StableAttr{Mode: syscall.S_IFLNK})
	d.AddChild(name, in, false)
	d.changed()
	l.attr(&out.Attr)
	return in, 0
}

// Rename, Unlink and Rmdir only check: go-fuse moves or drops the child
// once they succeed.
func (d *dir) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if d.GetChild(name) == nil {
		return syscall.ENOENT
	}
	if old := newParent.EmbeddedInode().GetChild(newName); old != nil && old.IsDir() && len(old.Children()) > 0 {
		return syscall.ENOTEMPTY
	}
	d.changed()
	if p, ok := newParent.(*dir); ok && p != d {
		p.changed()
	}
	return 0
}

func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno {
	if d.GetChild(name) == nil {
		return syscall.ENOENT
	}
	d.changed()
	return 0
}

func (d *dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	c := d.GetChild(name)
	switch {
	case c == nil:
		return syscall.ENOENT
	case len(c.Children()) > 0:
		return syscall.ENOTEMPTY
	}
	d.changed()
	return 0
}

// openFlags: as coffer's head, direct I/O for a file opened write-only.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

func (f *file) attr(a *fuse.Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fill(a, syscall.S_IFREG)
	a.Size = uint64(len(f.data))
	a.Nlink = 1
}

func (f *file) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.attr(&out.Attr)
	return 0
}

func (f *file) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	f.set(in)
	if n, ok := in.GetSize(); ok {
		if n <= uint64(len(f.data)) {
			f.data = f.data[:n]
		} else {
			f.data = append(f.data, make([]byte, n-uint64(len(f.data)))...)
		}
	}
	f.mu.Unlock()
	f.attr(&out.Attr)
	return 0
}

func (f *file) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		f.mu.Lock()
		f.data = f.data[:0]
		f.mu.Unlock()
	}
	return nil, openFlags(flags), 0
}

func (f *file) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(int64(len(f.data)), off+int64(len(dest)))
	return fuse.ReadResultData(append([]byte(nil), f.data[off:end]...)), 0
}

func (f *file) Write(ctx context.Context, fh fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := off + int64(len(data)); end > int64(len(f.data)) {
		f.data = append(f.data, make([]byte, end-int64(len(f.data)))...)
	}
	copy(f.data[off:], data)
	f.mtime = time.Now()
	f.ctime = f.mtime
	return uint32(len(data)), 0
}

// Flush answers, so the kernel keeps sending one at every close, as it
// does to coffer (a FLUSH answered ENOSYS once is never sent again).
func (f *file) Flush(ctx context.Context, fh fusefs.FileHandle) syscall.Errno { return 0 }

func (l *link) attr(a *fuse.Attr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fill(a, syscall.S_IFLNK)
	a.Size = uint64(len(l.target))
	a.Nlink = 1
}

func (l *link) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.attr(&out.Attr)
	return 0
}

func (l *link) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	l.mu.Lock()
	l.set(in)
	l.mu.Unlock()
	l.attr(&out.Attr)
	return 0
}

func (l *link) Readlink(ctx context.Context) ([]byte, syscall.Errno) { return l.target, 0 }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: memfs MOUNTPOINT")
		os.Exit(2)
	}
	minute := time.Minute
	root := &dir{}
	root.init(context.Background(), 0o755)
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
