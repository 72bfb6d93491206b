package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimitFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ live, held, floor, ceiling, want int64 }{
		{10 * mib, 0, 160 * mib, 4096 * mib, 160 * mib},          // small heap: the floor
		{300 * mib, 0, 160 * mib, 4096 * mib, 600 * mib},         // the working set grew: twice it
		{3000 * mib, 0, 160 * mib, 4096 * mib, 4096 * mib},       // never past the ceiling
		{300 * mib, 0, 160 * mib, 100 * mib, 160 * mib},          // a ceiling below the floor is the floor
		{120 * mib, 100 * mib, 160 * mib, 4096 * mib, 160 * mib}, // a big write's buffers: no headroom for them
		{300 * mib, 100 * mib, 160 * mib, 4096 * mib, 500 * mib}, // headroom for the rest only
		{100 * mib, 200 * mib, 160 * mib, 4096 * mib, 160 * mib}, // held counted at most once
	} {
		if got := limitFor(c.live, c.held, c.floor, c.ceiling); got != c.want {
			t.Errorf("limitFor(%d, %d, %d, %d) = %d MiB, want %d MiB", c.live/mib, c.held/mib, c.floor/mib, c.ceiling/mib, got/mib, c.want/mib)
		}
	}
}

// TestAdaptMemoryLimit checks that the limit follows a live heap that
// outgrows the floor, after the collections that see it.
func TestAdaptMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const floor = 16 << 20
	stop := adaptMemoryLimit(floor, nil)
	defer stop()
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20) // 64 MiB kept live
	}
	var got int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC() // the finalizer runs after the cycle, on its own goroutine
		time.Sleep(10 * time.Millisecond)
		if got = debug.SetMemoryLimit(-1); got >= 2*64<<20 {
			break
		}
	}
	runtime.KeepAlive(live)
	if got < 2*64<<20 {
		t.Fatalf("memory limit = %d MiB with 64 MiB live, want at least 128 MiB", got>>20)
	}
	stop() // from now on the limit stays, though the heap shrinks
	live = nil
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if after := debug.SetMemoryLimit(-1); after != got {
		t.Errorf("limit after stop = %d MiB, want it left at %d MiB", after>>20, got>>20)
	}
}
