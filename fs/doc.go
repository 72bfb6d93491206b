// Package fs is coffer's FUSE frontend: the writable head (the next
// snapshot), the read-only snapshot trees under .snapshots, and the one
// place where errors become errnos. Nodes translate FUSE calls; the data
// path lives in package repo.
package fs
