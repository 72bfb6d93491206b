package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readOnly answers every change under .snapshots with EROFS, so a process
// gets the errno a read-only filesystem gives rather than ENOTSUP.
type readOnly struct{}

var (
	_ = (fusefs.NodeSetattrer)((*snapNode)(nil))
	_ = (fusefs.NodeCreater)((*snapNode)(nil))
	_ = (fusefs.NodeRenamer)((*snapshotsDir)(nil))
)

// Setattr refuses.
func (readOnly) Setattr(context.Context, fusefs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Mkdir refuses.
func (readOnly) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod refuses.
func (readOnly) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Create refuses.
func (readOnly) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Symlink refuses.
func (readOnly) Symlink(context.Context, string, string, *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Link refuses.
func (readOnly) Link(context.Context, fusefs.InodeEmbedder, string, *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Unlink refuses.
func (readOnly) Unlink(context.Context, string) syscall.Errno { return syscall.EROFS }

// Rmdir refuses.
func (readOnly) Rmdir(context.Context, string) syscall.Errno { return syscall.EROFS }

// Rename refuses.
func (readOnly) Rename(context.Context, string, fusefs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EROFS
}

// Setxattr refuses.
func (readOnly) Setxattr(context.Context, string, []byte, uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr refuses.
func (readOnly) Removexattr(context.Context, string) syscall.Errno { return syscall.EROFS }
