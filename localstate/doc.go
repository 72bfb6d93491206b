// Package localstate owns what coffer keeps on this machine's disk beside
// the store: the cache directory's layout (blocks/, the head checkpoint,
// the snapshots last seen), the writer lock that lets one read-write
// daemon at a time serve a repository, and the one helper that replaces a
// local file atomically. Nothing here holds plaintext: the checkpoint is
// sealed by the repository before it reaches this package.
package localstate
