// Package chunker splits byte streams into content-defined chunks.
//
// It owns the choice of boundaries and nothing else: it neither buffers nor
// hashes chunks for identity. A boundary depends only on the 64 bytes before
// it and on a secret seed, so an insertion or deletion in a stream changes
// the chunks around it and no others, and identical content in different
// streams (or at different offsets) yields identical chunks.
//
// The algorithm is FastCDC with normalized chunking (level 2): a gear hash,
// fp = fp<<1 + gear[b], is tested against a mask of log2(Avg)+2 high bits
// while the chunk is shorter than Avg and log2(Avg)-2 high bits after, which
// narrows the spread of chunk sizes around Avg. Bytes more than 64 before
// Min are not hashed at all, since no boundary can fall there. The gear
// table is the AES-256-CTR keystream of the seed, so chunk lengths, which
// the storage provider can observe, do not reveal content to anyone without
// the key.
//
// The default sizes (Min 256 KiB, Avg 1 MiB, Max 4 MiB) were chosen by
// measurement; docs/FORMAT.md ("Chunking") has the numbers. In short: on a
// whole-tree backup with 1% of files edited, coffer chunks each file
// separately and files are mostly smaller than Min, so the sizes barely change
// deduplication, while the per-block cost (an index entry, 40 bytes of
// sealing overhead and one ranged GET on read) halves with every doubling of
// Avg. On one large archive stream with scattered edits smaller chunks
// deduplicate better; 1 MiB keeps most of that gain at half the block count
// of 512 KiB.
//
// The seed, the gear derivation, the masks and the normalization level are
// part of the repository format, frozen by TestGolden.
package chunker
