package fs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Handleless wraps the file system of a mount of one snapshot
// (NewSnapshotRoot's node tree) so that the kernel opens no handles,
// neither of directories nor of files: the first OPENDIR and the first
// OPEN answer ENOSYS, which tells the kernel to send no OPENDIR,
// RELEASEDIR, OPEN or RELEASE on the mount again. The mount is read-only
// ("ro"), so the kernel itself refuses opens for writing, which Open
// would have refused; reads come without a handle, and a snapshot file
// needs none. Each READDIR(PLUS) without a handle opens the directory,
// reads the chunk the kernel asked for from its offset and releases it
// again, in the process. A cold ls -lR, find or du then costs two round
// trips a directory less, and a copy out of the mount (cp -a, rsync, tar
// c) two round trips a file less: cp -a of the Go tree sent 5.5 requests
// a file, now 3.3 (READ, and LISTXATTR twice). What is lost is the
// kernel's cache of listings (FOPEN_CACHE_DIR), and so a second listing
// of a directory costs its READDIRPLUS requests again instead of OPENDIR
// and RELEASEDIR: as many round trips. A snapshot's listing is fixed and
// resumes at any offset, so a chunk read through a fresh handle is the
// chunk an open handle would have given. Without an open, the kernel
// keeps a file's pages from one open to the next (as FOPEN_KEEP_CACHE,
// which Open asked for, does).
func Handleless(raw fuse.RawFileSystem) fuse.RawFileSystem {
	return &handleless{RawFileSystem: raw}
}

type handleless struct {
	fuse.RawFileSystem
}

// Open turns file handles off.
func (h *handleless) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return fuse.ENOSYS
}

// OpenDir turns directory handles off.
func (h *handleless) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return fuse.ENOSYS
}

// ReadDir reads one chunk of a listing.
func (h *handleless) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.chunk(cancel, in, out, h.RawFileSystem.ReadDir)
}

// ReadDirPlus reads one chunk of a listing with its entries' attributes.
func (h *handleless) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.chunk(cancel, in, out, h.RawFileSystem.ReadDirPlus)
}

func (h *handleless) chunk(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList,
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
