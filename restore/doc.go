// Package restore writes a snapshot's tree (or part of it) out of the
// repository into a local directory, or into a tar stream, without a
// FUSE mount: contents, owners, modes, nanosecond times, extended
// attributes and POSIX ACLs, hard links, symlinks, special files, and
// sparse files kept sparse.
//
// It owns what a restore decides: which paths a filter selects, what to
// do with what is already at the target (Overwrite), and the order that
// keeps metadata exact (contents, then owner, xattrs, mode and times;
// directories last, deepest first). Blocks come from the repository in
// batches, fetched and authenticated in parallel; a block that cannot be
// read is reported with the file it belongs to and the restore goes on.
package restore
