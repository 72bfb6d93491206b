package repo

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"coffer/cipher"
)

// FileReader reads a stored file's bytes from its block list. Sequential
// reads prefetch the next blocks, in order, a few at a time (prefetch).
type FileReader struct {
	r      *Repository
	blocks []BlockRef
	offs   []int64 // start offset of each block; offs[len(blocks)] is the size

	mu     sync.Mutex
	next   int64 // guarded by mu; where a sequential reader reads next
	ahead  int   // guarded by mu; blocks already prefetched up to
	window int   // guarded by mu; the current prefetch window in blocks
	// queue holds the blocks to prefetch, in the order the file is
	// read; workers goroutines (at most prefetchers()) take them from
	// its front. Both guarded by mu.
	queue   []cipher.ID
	workers int
}

// maxReadAhead bounds how many blocks a sequential reader prefetches.
// Their bytes are bounded too, by a quarter of the block cache
// (aheadBytes), so that blocks of 4 MiB (the chunker's largest) are not
// evicted before the reader gets to them.
const maxReadAhead = 16

// aheadBytes bounds the bytes a sequential reader prefetches: a quarter
// of the block cache, as the snapshot read-ahead's window is.
func (f *FileReader) aheadBytes() int64 { return f.r.CacheBytes() / 4 }

// NewFileReader returns a reader over blocks.
func (r *Repository) NewFileReader(blocks []BlockRef) *FileReader {
	offs := make([]int64, len(blocks)+1)
	for i, b := range blocks {
		offs[i+1] = offs[i] + int64(b.Len)
	}
	return &FileReader{r: r, blocks: blocks, offs: offs}
}

// Size is the file's length.
func (f *FileReader) Size() int64 { return f.offs[len(f.blocks)] }

// ReadAt fills p from off; it returns fewer bytes only at the end of file.
func (f *FileReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	parts, err := f.Slices(ctx, off, len(p))
	done := 0
	for _, b := range parts {
		done += copy(p[done:], b)
	}
	return done, err
}

// Slices returns the n bytes from off as slices of the cached blocks, in
// order and without copying them; fewer bytes only at the end of file.
// The slices are shared with the block cache: the caller must not
// modify them. On an error it returns the slices read before it.
func (f *FileReader) Slices(ctx context.Context, off int64, n int) ([][]byte, error) {
	size := f.Size()
	if off >= size || n <= 0 {
		return nil, nil
	}
	n = int(min(int64(n), size-off))
	i := sort.Search(len(f.blocks), func(i int) bool { return f.offs[i+1] > off })
	f.readAhead(ctx, off, i, n)
	parts := make([][]byte, 0, 2)
	for done := 0; done < n; i++ {
		b, err := f.r.ReadBlock(ctx, DataBlock, f.blocks[i].ID)
		if err != nil {
			return parts, err
		}
		if len(b) != int(f.blocks[i].Len) {
			return parts, fmt.Errorf("block %s: %w: %d bytes, the file's list says %d", f.blocks[i].ID, ErrCorrupt, len(b), f.blocks[i].Len)
		}
		pos := off + int64(done) - f.offs[i]
		b = b[pos:min(int64(len(b)), pos+int64(n-done))]
		parts = append(parts, b)
		done += len(b)
	}
	return parts, nil
}

// readAhead notices sequential reads and prefetches the blocks after the
// one being read, widening the window while the reader keeps going. The
// kernel sends readahead requests in parallel, so they arrive a little out
// of order: a read near where the last one ended still counts as
// sequential.
func (f *FileReader) readAhead(ctx context.Context, off int64, i, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := off - f.next
	sequential := -sequentialSlack <= d && d <= sequentialSlack
	f.next = max(f.next, off+int64(n))
	if !sequential {
		f.next = off + int64(n)
		f.window, f.ahead = 0, i
		f.queue = nil // what a jump left behind is not read next
		return
	}
	f.window = min(maxReadAhead, max(2, f.window*2))
	from := max(f.ahead, i+1)
	to := min(len(f.blocks), i+1+f.window)
	for to > i+2 && f.offs[to]-f.offs[i+1] > f.aheadBytes() {
		to--
	}
	for j := from; j < to; j++ {
		if !f.r.blocks.Contains(f.blocks[j].ID) {
			f.queue = append(f.queue, f.blocks[j].ID)
		}
	}
	f.ahead = max(f.ahead, to)
	for f.workers < min(prefetchers(), len(f.queue)) {
		f.workers++
		go f.prefetch(context.WithoutCancel(ctx))
	}
}

// sequentialSlack is how far from the last read's end a read may start
// and still count as sequential.
const sequentialSlack = 8 << 20

// prefetchers bounds the blocks one file's read-ahead reads and opens at
// once. Each holds one read in the store: a local store reads around the
// page cache, with no kernel readahead behind it, so these are the disk's
// queue, and on a busy disk each read takes milliseconds. But each also
// decrypts and hashes its block, and the more share the processors, the
// later the block the reader waits for comes out. Twice the processors
// and four more kept a busy disk fed in the measurements
// (docs/BENCHMARKS.md); the window (maxReadAhead, aheadBytes)
// bounds them, and the memory they hold, anyway.
func prefetchers() int { return min(maxReadAhead, 2*runtime.GOMAXPROCS(0)+4) }

// prefetch loads the queued blocks into the cache, the first first, until
// the queue is empty. A read that needs a block before then fetches it
// itself, or waits for the fetch under way.
func (f *FileReader) prefetch(ctx context.Context) {
	for {
		f.mu.Lock()
		if len(f.queue) == 0 {
			f.workers--
			f.mu.Unlock()
			return
		}
		id := f.queue[0]
		f.queue = f.queue[1:]
		f.mu.Unlock()
		if f.r.blocks.Contains(id) {
			continue
		}
		if _, err := f.r.ReadBlock(ctx, DataBlock, id); err != nil {
			f.r.log.Debug("prefetch failed", "block", id.String(), "err", err)
		}
	}
}
