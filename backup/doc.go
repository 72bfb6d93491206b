// Package backup makes a snapshot of local paths without a mount: it walks
// the sources in parallel, reuses the blocks of files unchanged since the
// parent snapshot (same size, mtime, change time and inode, as restic
// judges), reads and chunks the rest through repo.FileWriter, and writes
// the same trees, link table and snapshot that a mount's commit writes.
//
// It is a writer of the repository like a read-write mount: the caller
// holds the writer lock (localstate.LockWriter) while it runs.
package backup
