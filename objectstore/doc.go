// Package objectstore owns the storage contract coffer writes through: a
// flat namespace of immutable objects that are put once, read whole or by
// exact byte range, listed by prefix in lexical order, and protected by
// optional retention dates that can only move later.
//
// The contract is the Store interface and the sentinel errors beside it.
// Backends live in sub-packages: memory (tests), local (a directory, the
// embedded default) and s3 (any S3-compatible service). The storetest
// package is the one conformance suite every backend runs, and s3/s3test
// starts a real S3 server for tests. This package imports nothing of
// coffer's.
package objectstore
