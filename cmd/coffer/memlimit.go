package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// adaptMemoryLimit keeps the daemon's soft memory limit near its working
// set. A fixed limit makes the collector run without pause once the live
// heap (the head's inodes grow with the tree) comes near it, and the cost
// of each file then triples; no limit lets the heap grow to twice the
// live heap however large that is. So the limit starts at floor and,
// after every collection, becomes twice the live heap (the collector's own
// target with GOGC=100), never below floor nor above limitCeiling, except
// that the bytes held reports (large buffers kept for reuse; nil: none)
// get no such headroom (limitFor). It returns a function that stops
// adapting.
func adaptMemoryLimit(floor int64, held func() int64) (stop func()) {
	a := &memLimit{floor: floor, ceiling: limitCeiling(floor), held: held}
	debug.SetMemoryLimit(floor)
	a.arm()
	return func() { a.stopped.Store(true) }
}

// memLimit is the state of an adapting memory limit.
type memLimit struct {
	floor, ceiling int64
	held           func() int64 // may be nil
	stopped        atomic.Bool
	sample         [1]metrics.Sample // used only by the finalizer goroutine
}

// gcTick is an object made to be collected: its finalizer runs once per
// collection cycle. It has a size, since zero-sized objects may share an
// address and never be freed.
type gcTick struct{ _ [16]byte }

// arm sets the limit again after the next collection, and then again.
func (a *memLimit) arm() {
	runtime.SetFinalizer(new(gcTick), func(*gcTick) {
		if a.stopped.Load() {
			return
		}
		a.sample[0].Name = "/gc/heap/live:bytes"
		metrics.Read(a.sample[:])
		if a.sample[0].Value.Kind() == metrics.KindUint64 {
			var held int64
			if a.held != nil {
				held = a.held()
			}
			debug.SetMemoryLimit(limitFor(int64(a.sample[0].Value.Uint64()), held, a.floor, a.ceiling))
		}
		a.arm()
	})
}

// limitFor is the memory limit for a live heap of live bytes, of which
// held are large buffers kept for reuse. The headroom of twice the live
// heap pays for marking: a heap of many small objects is costly to mark,
// so it is collected only once as much again has been allocated. Large
// buffers of bytes cost nothing to mark and are reused, not dropped; room
// beside them only lets garbage pile up to their size, as long as a write
// goes on (the write path's packs, some 100 MiB: issue 10).
func limitFor(live, held, floor, ceiling int64) int64 {
	held = min(max(held, 0), live)
	return min(max(2*live-held, floor), max(ceiling, floor))
}

// limitCeiling bounds the adapted limit: half of the machine's memory, so
// that a daemon serving a huge head still leaves the machine its room, or
// 8 times floor where the memory cannot be read.
func limitCeiling(floor int64) int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 8 * floor
	}
	return max(int64(si.Totalram)*int64(si.Unit)/2, floor)
}
