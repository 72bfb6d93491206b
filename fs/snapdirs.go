package fs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// HandlelessDirs wraps the file system of a mount of one snapshot
// (NewSnapshotRoot's node tree) so that the kernel opens no directory
// handles: the first OPENDIR answers ENOSYS, which tells the kernel to
// send no OPENDIR and no RELEASEDIR on the mount again, and each
// READDIR(PLUS) without a handle opens the directory, reads the chunk
// the kernel asked for from its offset and releases it again, in the
// process. A cold ls -lR, find or du then costs two round trips a
// directory less, half of what listing a snapshot costs once getxattr is
// off (snapwalk.go). What is lost is the kernel's cache of listings
// (FOPEN_CACHE_DIR), and so a second listing of a directory costs its
// READDIRPLUS requests again instead of OPENDIR and RELEASEDIR: as many
// round trips. A snapshot's listing is fixed and resumes at any offset,
// so a chunk read through a fresh handle is the chunk an open handle
// would have given.
func HandlelessDirs(raw fuse.RawFileSystem) fuse.RawFileSystem {
	return &handlelessDirs{RawFileSystem: raw}
}

type handlelessDirs struct {
	fuse.RawFileSystem
}

// OpenDir turns directory handles off.
func (h *handlelessDirs) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return fuse.ENOSYS
}

// ReadDir reads one chunk of a listing.
func (h *handlelessDirs) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.chunk(cancel, in, out, h.RawFileSystem.ReadDir)
}

// ReadDirPlus reads one chunk of a listing with its entries' attributes.
func (h *handlelessDirs) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.chunk(cancel, in, out, h.RawFileSystem.ReadDirPlus)
}

func (h *handlelessDirs) chunk(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList,
	read func(<-chan struct{}, *fuse.ReadIn, *fuse.DirEntryList) fuse.Status) fuse.Status {
	var opened fuse.OpenOut
	if st := h.RawFileSystem.OpenDir(cancel, &fuse.OpenIn{InHeader: in.InHeader, Flags: syscall.O_RDONLY | syscall.O_DIRECTORY}, &opened); !st.Ok() {
		return st
	}
	defer h.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: in.InHeader, Fh: opened.Fh})
	with := *in
	with.Fh = opened.Fh
	return read(cancel, &with, out)
}
