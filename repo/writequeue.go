package repo

import "errors"

// errClosed: a write arrived after the file was finished.
var errClosed = errors.New("file already finished")

// queueDepth is how many writes a file may have waiting to be chunked.
const queueDepth = 4

// enqueue queues a write at the file's end, copying data, and reports
// whether it did. Writes elsewhere, and writes while the repository's
// tail budget is spent, are left to the synchronous path. qmu is held.
func (w *FileWriter) enqueue(data []byte, off int64) (bool, error) {
	if w.closed {
		return false, errClosed
	}
	w.mu.Lock()
	if err := w.failure(); err != nil {
		w.mu.Unlock()
		return false, err
	}
	size := w.tailOff + int64(len(w.tail)) + w.queued
	if off != size || len(data) == 0 || w.r.tail.Load() > w.r.opts.TailBudget {
		w.mu.Unlock()
		return false, nil
	}
	w.queued += int64(len(data))
	w.r.tail.Add(int64(len(data)))
	w.mu.Unlock()

	buf := w.r.writeBuf(len(data))
	buf = append(buf, data...)
	if !w.started {
		w.started = true
		w.queue = make(chan []byte, queueDepth)
		go w.chunkQueued()
	}
	w.inflight.Add(1)
	w.queue <- buf
	return true, nil
}

// chunkQueued feeds queued writes to the chunker, in order.
func (w *FileWriter) chunkQueued() {
	for buf := range w.queue {
		w.mu.Lock()
		w.queued -= int64(len(buf))
		w.r.tail.Add(-int64(len(buf)))
		if w.err == nil {
			// Appended even after a block failed to store: this write
			// was acknowledged, and finish stores its bytes later.
			w.append(buf)
		}
		w.mu.Unlock()
		w.r.recycleWrite(buf)
		w.inflight.Done()
	}
}

// writeBufSize is the size of pooled write buffers: FUSE's largest write.
const writeBufSize = 1 << 20

// writeBuf returns an empty buffer for a queued write of n bytes.
func (r *Repository) writeBuf(n int) []byte {
	if n <= writeBufSize {
		return r.writeBufs.get()
	}
	return make([]byte, 0, n)
}

func (r *Repository) recycleWrite(b []byte) { r.writeBufs.put(b) }
