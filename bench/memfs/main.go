// Command memfs serves a file system that keeps everything in memory and
// does no other work, for figure 7 of the benchmark: the time a loop that
// creates small files spends in FUSE round trips alone. It asks the kernel
// for what coffer's head asks (a minute's cache of entries, attributes and
// misses; direct I/O for a file opened write-only; a FLUSH at every
// close), so a file costs it the same requests, each answered at once.
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

// dir is a directory; its entries are go-fuse's children.
type dir struct{ fusefs.Inode }

// file is a regular file's bytes.
type file struct {
	fusefs.Inode
	mu   sync.Mutex
	data []byte
	mode uint32
}

var (
	_ fusefs.NodeCreater   = (*dir)(nil)
	_ fusefs.NodeMkdirer   = (*dir)(nil)
	_ fusefs.NodeGetattrer = (*file)(nil)
	_ fusefs.NodeOpener    = (*file)(nil)
	_ fusefs.NodeReader    = (*file)(nil)
	_ fusefs.NodeWriter    = (*file)(nil)
	_ fusefs.NodeFlusher   = (*file)(nil)
	_ fusefs.NodeSetattrer = (*file)(nil)
)

func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	c := d.NewInode(ctx, &dir{}, fusefs.StableAttr{Mode: syscall.S_IFDIR})
	d.AddChild(name, c, false)
	out.Attr.Mode = syscall.S_IFDIR | mode&0o7777
	out.Attr.Nlink = 2
	return c, 0
}

func (d *dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, nil, 0, syscall.EEXIST
	}
	f := &file{mode: mode & 0o7777}
	c := d.NewInode(ctx, f, fusefs.StableAttr{Mode: syscall.S_IFREG})
	d.AddChild(name, c, false)
	f.fill(&out.Attr)
	return c, nil, openFlags(flags), 0
}

// openFlags: as coffer's head, direct I/O for a file opened write-only.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

func (f *file) fill(a *fuse.Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.Mode = syscall.S_IFREG | f.mode
	a.Size = uint64(len(f.data))
	a.Nlink = 1
}

func (f *file) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.fill(&out.Attr)
	return 0
}

func (f *file) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	if m, ok := in.GetMode(); ok {
		f.mode = m & 0o7777
	}
	if n, ok := in.GetSize(); ok && n <= uint64(len(f.data)) {
		f.data = f.data[:n]
	}
	f.mu.Unlock()
	f.fill(&out.Attr)
	return 0
}

func (f *file) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, openFlags(flags), 0
}

func (f *file) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(append([]byte(nil), f.data[off:min(int64(len(f.data)), off+int64(len(dest)))]...)), 0
}

func (f *file) Write(ctx context.Context, fh fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := off + int64(len(data)); end > int64(len(f.data)) {
		f.data = append(f.data, make([]byte, end-int64(len(f.data)))...)
	}
	copy(f.data[off:], data)
	return uint32(len(data)), 0
}

// Flush answers, so the kernel keeps sending one at every close, as it
// does to coffer (a FLUSH answered ENOSYS once is never sent again).
func (f *file) Flush(ctx context.Context, fh fusefs.FileHandle) syscall.Errno { return 0 }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: memfs MOUNTPOINT")
		os.Exit(2)
	}
	minute := time.Minute
	server, err := fusefs.Mount(os.Args[1], &dir{}, &fusefs.Options{
		MountOptions: fuse.MountOptions{FsName: "memfs", Name: "memfs"},
		EntryTimeout: &minute, AttrTimeout: &minute, NegativeTimeout: &minute,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "memfs:", err)
		os.Exit(1)
	}
	server.Wait()
}
