package repo

// freeList keeps a few large buffers of one size for reuse. Unlike
// sync.Pool it is not emptied by every garbage collection, which under
// the daemon's memory limit would happen every few packs and turn each
// reuse back into a fresh, zeroed allocation.
type freeList struct {
	size int
	bufs chan []byte
}

func newFreeList(keep, size int) *freeList {
	return &freeList{size: size, bufs: make(chan []byte, keep)}
}

// get returns an empty buffer with capacity size.
func (f *freeList) get() []byte {
	select {
	case b := <-f.bufs:
		return b[:0]
	default:
		return make([]byte, 0, f.size)
	}
}

// put offers b back; buffers of another capacity, or beyond what the list
// keeps, are left to the garbage collector.
func (f *freeList) put(b []byte) {
	if cap(b) != f.size {
		return
	}
	select {
	case f.bufs <- b[:0]:
	default:
	}
}
