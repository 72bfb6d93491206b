// Package cache holds coffer's local caches: BlockCache, an in-memory LRU of
// plaintext blocks bounded in bytes that collapses concurrent fetches of one
// block into a single fetch, and DiskCache, an on-disk LRU of opaque sealed
// blobs bounded in bytes.
//
// The package owns eviction, byte accounting and fetch deduplication. It
// knows nothing of what a key names or how a value is fetched, sealed or
// verified: callers pass a fetch function to BlockCache.Get and only ever
// store ciphertext in a DiskCache, so nothing readable reaches the disk.
package cache
