package repo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"coffer/chunker"
	"coffer/cipher"
)

// FileWriter turns the bytes of one new file into blocks as they arrive.
// Writes at the end stream through the content-defined chunker; a gap is
// filled with zeros; a write over bytes already written (a header patched
// at the end, as pg_dump -Fc does) replaces just the blocks it touches.
// No plaintext is ever staged on disk; memory per file is bounded by one
// chunk, and the repository's tail budget bounds all files together.
type FileWriter struct {
	r *Repository

	// qmu orders the file's operations: a write at the end is queued and
	// chunked by the file's own goroutine while the writer goes on;
	// anything else first waits for the queue to drain.
	qmu      sync.Mutex
	queue    chan []byte    // appends waiting to be chunked
	inflight sync.WaitGroup // appends queued and not yet chunked
	started  bool           // guarded by qmu; the queue's goroutine runs
	closed   bool           // guarded by qmu; the queue is closed

	mu      sync.Mutex
	queued  int64            // guarded by mu; bytes queued, not yet chunked
	ch      *chunker.Chunker // guarded by mu
	blocks  []*slot          // guarded by mu; finished chunks in order
	offs    []int64          // guarded by mu; start offset of each block
	tail    []byte           // guarded by mu; the unfinished chunk
	tailOff int64            // guarded by mu; offset of tail[0]
	err     error            // guarded by mu; sticky first failure

	// stored is set when a block could not be stored: further writes
	// are refused and close reports it, but the file keeps the block's
	// bytes and finish tries to store them again, so once the store
	// heals everything acknowledged is kept.
	stored atomic.Pointer[error]
}

// slot is a chunk on its way to becoming a stored block.
type slot struct {
	n    int
	w    *FileWriter   // the file it belongs to
	done chan struct{} // closed when id and err are set

	mu    sync.Mutex
	plain []byte // guarded by mu; the plaintext until it is stored
	id    cipher.ID
	err   error
}

// NewFileWriter starts an empty new file.
func (r *Repository) NewFileWriter() *FileWriter {
	return &FileWriter{r: r, ch: r.chunks.New()}
}

// Size is the file's current length.
func (w *FileWriter) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tailOff + int64(len(w.tail)) + w.queued
}

// Err returns the first failure this file met, if any, including a block
// that could not be stored (what close(2) reports). It does not wait.
func (w *FileWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failure()
}

// failure is the error that refuses further writes; mu is held.
func (w *FileWriter) failure() error {
	if w.err != nil {
		return w.err
	}
	if p := w.stored.Load(); p != nil {
		return *p
	}
	return nil
}

// WriteAt writes data at off, in any order. A write at the end returns
// once data is copied and queued; the file's goroutine chunks it.
func (w *FileWriter) WriteAt(ctx context.Context, data []byte, off int64) error {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	if queued, err := w.enqueue(data, off); queued || err != nil {
		return err
	}
	w.inflight.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.failure(); err != nil {
		return err
	}
	size := w.tailOff + int64(len(w.tail))
	if off > size {
		w.zeros(off - size)
	}
	if off < size {
		n := min(int64(len(data)), size-off)
		if err := w.patch(ctx, off, data[:n]); err != nil {
			if ctx.Err() == nil {
				w.err = err // an interrupted caller may retry; a failure stays
			}
			return err
		}
		data, off = data[n:], off+n
	}
	w.append(data)
	return nil
}

func (w *FileWriter) zeros(n int64) {
	var z [64 << 10]byte
	for n > 0 {
		k := min(n, int64(len(z)))
		w.append(z[:k])
		n -= k
	}
}

// append feeds data to the chunker, emitting each finished chunk.
func (w *FileWriter) append(data []byte) {
	for len(data) > 0 {
		n, cut := w.ch.Scan(data)
		w.tail = append(w.tail, data[:n]...)
		w.r.tail.Add(int64(n))
		data = data[n:]
		if cut {
			w.emit()
		}
	}
	// Under memory pressure from many open files, cut early: a
	// boundary that is not content-defined costs some deduplication,
	// never correctness.
	if w.r.tail.Load() > w.r.opts.TailBudget && len(w.tail) >= 64<<10 {
		w.emit()
	}
}

// emit hands the unfinished chunk to the workers as a finished block.
func (w *FileWriter) emit() {
	w.ch.Reset()
	if len(w.tail) == 0 {
		return
	}
	s := &slot{n: len(w.tail), w: w, done: make(chan struct{}), plain: w.tail}
	w.r.tail.Add(-int64(len(w.tail)))
	w.blocks = append(w.blocks, s)
	w.offs = append(w.offs, w.tailOff)
	w.tailOff += int64(len(w.tail))
	// A file that has cut one chunk is a large file: give it a buffer
	// that holds a whole chunk, so its tail never reallocates.
	w.tail = w.r.chunkBuf()
	w.r.submit(s)
}

// chunkBuf returns an empty buffer with room for the largest chunk.
func (r *Repository) chunkBuf() []byte { return r.chunkBufs.get() }

// recycle returns a chunk buffer nobody references any more.
func (r *Repository) recycle(b []byte) { r.chunkBufs.put(b) }

// submit queues s for hashing, sealing and packing; a full queue blocks,
// which is the write path's backpressure.
func (r *Repository) submit(s *slot) {
	r.jobs <- func() {
		id := r.keys.BlockID(s.plain)
		err := r.SaveBlock(context.Background(), DataBlock, id, s.plain)
		s.mu.Lock()
		plain := s.plain
		s.id, s.err = id, err
		if err == nil {
			s.plain = nil
		}
		s.mu.Unlock()
		if err != nil {
			failed := err // its own variable, so only a failure allocates
			s.w.stored.CompareAndSwap(nil, &failed)
		}
		close(s.done)
		if err == nil {
			r.recycle(plain)
		}
	}
}

// retryFailed submits again every block that could not be stored; mu is
// held. A block's bytes stay in its slot until it is stored.
func (w *FileWriter) retryFailed() {
	for i, s := range w.blocks {
		select {
		case <-s.done:
		default:
			continue
		}
		if s.err == nil {
			continue
		}
		again := &slot{n: s.n, w: w, done: make(chan struct{}), plain: s.plain}
		w.blocks[i] = again
		w.r.submit(again)
	}
}

// plaintext returns a copy of block s's bytes, wherever they are now.
func (w *FileWriter) plaintext(ctx context.Context, s *slot) ([]byte, error) {
	s.mu.Lock()
	if s.plain != nil {
		p := append([]byte(nil), s.plain...)
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	if err := wait(ctx, s); err != nil {
		return nil, err
	}
	p, err := w.r.ReadBlock(ctx, DataBlock, s.id)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p...), nil
}

func wait(ctx context.Context, s *slot) error {
	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// find returns the index of the block holding offset off (off < tailOff).
func (w *FileWriter) find(off int64) int {
	lo, hi := 0, len(w.offs)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if w.offs[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// patch overwrites bytes already written: in the tail in place, in a
// finished block by replacing that block with a patched copy.
func (w *FileWriter) patch(ctx context.Context, off int64, data []byte) error {
	for len(data) > 0 {
		if off >= w.tailOff {
			copy(w.tail[off-w.tailOff:], data)
			return nil
		}
		i := w.find(off)
		p, err := w.plaintext(ctx, w.blocks[i])
		if err != nil {
			return fmt.Errorf("patch at %d: %w", off, err)
		}
		n := copy(p[off-w.offs[i]:], data)
		s := &slot{n: len(p), w: w, done: make(chan struct{}), plain: p}
		w.blocks[i] = s
		w.r.submit(s)
		data, off = data[n:], off+int64(n)
	}
	return nil
}

// ReadAt reads from the file as written so far.
func (w *FileWriter) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	w.inflight.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	size := w.tailOff + int64(len(w.tail))
	if off >= size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), size-off)]
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= w.tailOff {
			done += copy(p[done:], w.tail[pos-w.tailOff:])
			continue
		}
		i := w.find(pos)
		b, err := w.plaintext(ctx, w.blocks[i])
		if err != nil {
			return done, err
		}
		done += copy(p[done:], b[pos-w.offs[i]:])
	}
	return done, nil
}

// Truncate sets the file's length: longer fills zeros, shorter drops bytes.
func (w *FileWriter) Truncate(ctx context.Context, size int64) error {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	w.inflight.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.tailOff + int64(len(w.tail))
	switch {
	case size == cur:
		return nil
	case size > cur:
		w.zeros(size - cur)
		return nil
	}
	var keep []byte
	if size >= w.tailOff {
		keep = append([]byte(nil), w.tail[:size-w.tailOff]...)
	} else {
		i := w.find(size)
		p, err := w.plaintext(ctx, w.blocks[i])
		if err != nil {
			return err
		}
		keep = p[:size-w.offs[i]]
		w.tailOff = w.offs[i]
		w.blocks, w.offs = w.blocks[:i], w.offs[:i]
	}
	w.r.tail.Add(-int64(len(w.tail)))
	w.tail = nil
	w.ch.Reset()
	w.append(keep)
	return nil
}

// finish cuts the unfinished chunk and waits until every block has an ID.
func (w *FileWriter) finish(ctx context.Context) ([]BlockRef, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.emit()
	w.r.recycle(w.tail)
	w.tail = nil
	if failed := w.stored.Load(); failed != nil {
		if !w.r.packer.waitHealthy(ctx, w.r.opts.RetryWait) {
			return nil, *failed // still failing: the next finish tries again
		}
		w.retryFailed()
	}
	refs := make([]BlockRef, len(w.blocks))
	for i, s := range w.blocks {
		if err := wait(ctx, s); err != nil {
			return nil, err
		}
		refs[i] = BlockRef{ID: s.id, Len: uint32(s.n)}
	}
	// Every block is stored now: a failure met earlier is healed and
	// no longer refuses writes or fails close.
	w.stored.Store(nil)
	return refs, nil
}

// Sync makes everything written so far durable in the store.
func (w *FileWriter) Sync(ctx context.Context) error {
	w.qmu.Lock()
	w.inflight.Wait()
	w.mu.Lock()
	_, err := w.finish(ctx)
	w.mu.Unlock()
	w.qmu.Unlock()
	if err != nil {
		return err
	}
	return w.r.Flush(ctx)
}

// Close finishes the file and returns its blocks. The blocks are durable
// at the next Flush or snapshot; an error already known is returned here.
func (w *FileWriter) Close(ctx context.Context) ([]BlockRef, error) {
	w.qmu.Lock()
	defer w.qmu.Unlock()
	w.inflight.Wait()
	if w.started && !w.closed {
		close(w.queue)
	}
	w.closed = true
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.finish(ctx)
}
