package repo

import (
	"sync"
	"unsafe"
)

// freeList keeps a few large buffers of one size for reuse. Unlike
// sync.Pool it is not emptied by every garbage collection, which under
// the daemon's memory limit would happen every few packs and turn each
// reuse back into a fresh, zeroed allocation. The buffer given back last
// is handed out first, while it may still be in the CPU's cache.
type freeList struct {
	size    int
	keep    int
	aligned bool // buffers start packAlignOff bytes past a packAlign boundary

	mu   sync.Mutex
	bufs [][]byte // guarded by mu; a stack
	made int      // guarded by mu; buffers allocated so far
}

func newFreeList(keep, size int) *freeList {
	return &freeList{size: size, keep: keep}
}

// newPackFreeList is a freeList of pack buffers, laid out in memory as
// the local store needs to write a pack's data around the page cache:
// it writes a 64-byte header and then the data, and can hand the file's
// whole 4 KiB blocks to the device straight from memory when they are
// 4 KiB aligned there too, that is when the data starts 64 bytes past a
// 4 KiB boundary (objectstore/local, directStart). Other stores ignore
// the layout; a buffer laid out otherwise is only written more slowly.
func newPackFreeList(keep, size int) *freeList {
	f := newFreeList(keep, size)
	f.aligned = true
	return f
}

// The pack buffer layout: see newPackFreeList.
const (
	packAlign    = 4096
	packAlignOff = 64
)

// get returns an empty buffer with capacity size.
func (f *freeList) get() []byte {
	f.mu.Lock()
	if n := len(f.bufs); n > 0 {
		b := f.bufs[n-1]
		f.bufs[n-1] = nil
		f.bufs = f.bufs[:n-1]
		f.mu.Unlock()
		return b
	}
	f.made++
	f.mu.Unlock()
	return f.alloc()
}

func (f *freeList) alloc() []byte {
	if !f.aligned {
		return make([]byte, 0, f.size)
	}
	raw := make([]byte, f.size+packAlign)
	at := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % packAlign
	skip := (packAlignOff + packAlign - int(at)) % packAlign
	return raw[skip : skip : skip+f.size]
}

// trim lets the garbage collector have every kept buffer past the first
// n: what a burst of writing needed at once need not stay once it is over.
func (f *freeList) trim(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bufs) <= n {
		return
	}
	clear(f.bufs[n:])
	f.bufs = f.bufs[:n]
}

// kept is how many buffers the list holds now.
func (f *freeList) kept() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bufs)
}

// keptBytes is the size of the buffers the list holds now.
func (f *freeList) keptBytes() int64 { return int64(f.kept()) * int64(f.size) }

// allocated is how many buffers get has had to allocate so far.
func (f *freeList) allocated() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.made
}

// put offers b back; buffers of another capacity, or beyond what the list
// keeps, are left to the garbage collector.
func (f *freeList) put(b []byte) {
	if cap(b) != f.size {
		return
	}
	f.mu.Lock()
	if len(f.bufs) < f.keep {
		f.bufs = append(f.bufs, b[:0])
	}
	f.mu.Unlock()
}
