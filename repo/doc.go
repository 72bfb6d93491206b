// Package repo owns coffer's repository format: the config and key slots,
// packs of sealed blocks, the index that locates each block, trees
// (directory listings stored as blocks, forming a Merkle tree), snapshots,
// and the streaming write path that turns a file's bytes into blocks.
//
// Everything it puts in the store is sealed with a subkey derived from the
// master key; see docs/FORMAT.md for the exact layout and the reasons.
package repo
