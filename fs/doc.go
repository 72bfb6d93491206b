// Package fs is coffer's FUSE frontend: the writable head (the next
// snapshot), the read-only snapshot trees under .snapshots, and the one
// place where errors become errnos. Nodes translate FUSE calls; the data
// path lives in package repo.
//
// # Round trips
//
// On small files the time goes to round trips through /dev/fuse, not to
// coffer's own work, so the head asks the kernel to ask as little as it
// can without giving up semantics (RequestCounts counts what it asks;
// COFFER_FUSE_COUNTS=FILE writes the counts of a mount):
//
//   - Entries, attributes and misses are cached for a minute (set by coffer
//     mount): every change to the head passes through the kernel, so
//     nothing it caches goes stale behind its back.
//   - Closing a handle that does not write sends no FLUSH (FOPEN_NOFLUSH):
//     there is nothing to report.
//   - The kernel's POSIX ACL support is left off unless others may use the
//     mount, because it turns on the kernel's permission checks, and those
//     refresh a directory's attributes after every create, rename or unlink
//     in it. ACLs are stored, served and applied to the mode by coffer
//     either way.
//   - A new file opened write-only is served with direct I/O: the kernel's
//     cached write path asks for security.capability before every write
//     (to clear set-ID bits; the kernel clears SB_NOSEC on FUSE, and
//     answering ENOSYS would turn off all extended attributes), the direct
//     one does not. Such a handle can never be mapped. A file opened for
//     reading and writing (rsync's temporary files) keeps the page cache,
//     which shared mappings need, and the GETXATTR, a map lookup.
//   - The writeback cache is not used. It would let the kernel own size and
//     mtime and merge small writes, but it sends the mtime back in a
//     SETATTR when each file is closed, ignores FOPEN_NOFLUSH, and saves no
//     GETATTR that the above do not: measured, rsync spent three more
//     requests per file with it, cp -a two more, tar x half one fewer.
//
// # Memory
//
// The head keeps its own entries (node.kids; go-fuse's tree of inodes is
// only the kernel's view, and its inodes go when the kernel forgets them),
// so that memory follows what is in use: past a bound of loaded files the
// least recently used unchanged directories drop their files and load
// them again from their tree blocks, with the same inode numbers (see
// shed.go).
package fs
