package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/repo"
)

// handle is an open head file. write says it writes a new file. sealed
// says it was opened for writing after the file was finished: tools open
// their output O_RDWR only to fsync it, so the open succeeds, but the
// file's bytes never change: a write, truncate or fallocate through it is
// EPERM. A sealed handle is not a writer (commits and stops do not wait
// for it) and is served with direct I/O, so nothing it does lands in the
// page cache and a writable shared mmap fails at once.
type handle struct {
	write  bool
	sealed bool
}

var (
	_ = (fusefs.NodeOpener)((*node)(nil))
	_ = (fusefs.NodeReader)((*node)(nil))
	_ = (fusefs.NodeWriter)((*node)(nil))
	_ = (fusefs.NodeWritever)((*node)(nil))
	_ = (fusefs.NodeFlusher)((*node)(nil))
	_ = (fusefs.NodeFsyncer)((*node)(nil))
	_ = (fusefs.NodeReleaser)((*node)(nil))
	_ = (fusefs.NodeAllocater)((*node)(nil))
)

// Open opens a file. A file is writable only while it is new: after its
// last writer closes, opening it for writing with O_TRUNC starts a new
// file in its place, and without O_TRUNC gives a sealed handle.
func (n *node) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if n.kind != repo.TypeFile {
		return nil, 0, syscall.EINVAL
	}
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return &handle{}, readOpenFlags, 0
	}
	if flags&syscall.O_TRUNC == 0 {
		n.h.awaitReleaseOf(n)
	}
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.pin(ctx); errno != 0 {
		return nil, 0, errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writer == nil && flags&syscall.O_TRUNC == 0 {
		// Not a writer, so a stop lets it through: a dump's last fsync
		// of its output still works while the daemon stops.
		return &handle{sealed: true}, fuse.FOPEN_DIRECT_IO | readOpenFlags, 0
	}
	if n.h.refuseWrites() {
		return nil, 0, errStopping
	}
	now := n.h.now()
	switch {
	case n.writer == nil:
		n.startWriter()
		n.mtime = now // a truncation, as on Linux, even without a write
	case flags&syscall.O_TRUNC != 0:
		if err := n.writer.Truncate(ctx, 0); err != nil {
			return nil, 0, toErrno(n.h.log, "truncate", err)
		}
		n.mtime = now
	}
	n.writers++
	n.ctime = now
	n.attrsChanged()
	return &handle{write: true}, writeOpenFlags(flags), 0
}

// readOpenFlags answer an open that does not write (read-only, or
// sealed). Closing such a handle has nothing to report (Flush reports only
// a writer's errors), so the kernel need not ask: rsync opens every file
// whose mode it sets, and tools open files to read their attributes. (The
// kernel ignores FOPEN_NOFLUSH under the writeback cache, where its flush
// writes dirty pages back; coffer does not use it: see doc.go.)
const readOpenFlags = fuse.FOPEN_NOFLUSH

// writeOpenFlags answer an open (or create) of a new file for writing.
// Opened write-only, it is served with direct I/O: such a handle can never
// be mapped (mmap needs a readable descriptor), and without the page cache
// the kernel does not ask for security.capability before every write (its
// cached write path does, to clear set-ID bits; coffer's files are written
// only while new, by their creator). Data still reaches coffer in writes
// of up to 1 MiB, as the write(2) calls make them. A file opened for
// reading and writing keeps the page cache, which shared mappings need.
func writeOpenFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// Read reads a file, new or committed.
func (n *node) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.mu.Lock()
	w := n.writer
	rd := n.reader
	if w == nil && rd == nil {
		rd = n.h.repo.NewFileReader(n.blocks)
		n.reader = rd
	}
	n.mu.Unlock()
	var k int
	var err error
	if w != nil {
		k, err = w.ReadAt(ctx, dest, off)
	} else {
		k, err = rd.ReadAt(ctx, dest, off)
	}
	if err != nil {
		return nil, toErrno(n.h.log, "read", err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Write writes to a new file at any offset.
func (n *node) Write(ctx context.Context, f fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	return n.Writev(ctx, f, [][]byte{data}, off)
}

// Writev writes data split over several slices (large FUSE writes arrive
// this way), at any offset of a new file.
func (n *node) Writev(ctx context.Context, f fusefs.FileHandle, iov [][]byte, off int64) (uint32, syscall.Errno) {
	if h, _ := f.(*handle); h == nil || !h.write {
		return 0, noWrite(h)
	}
	n.mu.Lock()
	w := n.writer
	if w != nil {
		n.mtime = n.h.now()
		n.ctime = n.mtime
	}
	n.mu.Unlock()
	if w == nil {
		return 0, syscall.EPERM
	}
	written := 0
	for _, data := range iov {
		if err := w.WriteAt(ctx, data, off+int64(written)); err != nil {
			return uint32(written), toErrno(n.h.log, "write", err)
		}
		written += len(data)
	}
	n.h.touch()
	return uint32(written), 0
}

// Flush runs at every close(2), also of one of several duplicated
// descriptors (a shell's redirection closes one before writing through
// the other), so it only reports an error already known. The file is
// finished when its last handle is released.
func (n *node) Flush(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	if h, _ := f.(*handle); h == nil || !h.write {
		return 0
	}
	n.mu.Lock()
	w := n.writer
	if n.writers == 1 && w != nil {
		n.h.closing(n, true)
	}
	n.mu.Unlock()
	if w == nil {
		return 0
	}
	return toErrno(n.h.log, "close", w.Err())
}

// finish fixes a new file's contents; mu must be held.
func (n *node) finish(ctx context.Context) error {
	blocks, err := n.writer.Close(ctx)
	if err != nil {
		return err
	}
	n.size = n.writer.Size()
	n.blocks, n.writer, n.reader = blocks, nil, nil
	n.attrsChanged() // a file finished after the last commit is news for the next
	return nil
}

// Release drops a handle; the last writer finishes the file if Flush did
// not.
func (n *node) Release(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	if h, _ := f.(*handle); h == nil || !h.write {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.writers--
	if n.writers == 0 {
		n.h.closing(n, false)
	}
	if n.writers == 0 && n.writer != nil {
		if err := n.finish(context.WithoutCancel(ctx)); err != nil {
			n.h.log.Error("file could not be finished", "err", err)
		}
	}
	return 0
}

// noWrite is the error for changing a file's bytes through h, which is
// not a writer: EPERM for a sealed handle, EBADF for one opened
// read-only.
func noWrite(h *handle) syscall.Errno {
	if h != nil && h.sealed {
		return syscall.EPERM
	}
	return syscall.EBADF
}

// Allocate is EPERM through a sealed handle. A new file's writer gets
// EOPNOTSUPP, on which posix_fallocate writes instead.
func (n *node) Allocate(ctx context.Context, f fusefs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if h, _ := f.(*handle); h == nil || !h.write {
		return noWrite(h)
	}
	return syscall.EOPNOTSUPP
}

// Fsync returns once everything written to the file is durable in the
// store. A finished file whose blocks are all stored costs nothing: tools
// that fsync each output file must not cut a pack per file. A directory's
// fsync makes everything written so far durable.
func (n *node) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	n.mu.Lock()
	w, blocks := n.writer, n.blocks
	n.mu.Unlock()
	var err error
	switch {
	case w != nil:
		err = w.Sync(ctx)
	case n.kind == repo.TypeFile:
		err = n.h.repo.SyncBlocks(ctx, blocks)
	default:
		err = n.h.repo.Flush(ctx)
	}
	return toErrno(n.h.log, "fsync", err)
}
