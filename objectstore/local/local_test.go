package local_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/storetest"
)

// newStore opens a store on a fresh directory and closes it at the end.
func newStore(t *testing.T, clock func() time.Time) *local.Store {
	t.Helper()
	st, err := local.New(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return newStore(t, clock.Now)
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now, DeleteProber: true})
}

// TestDirectWrites stores objects whose data is laid out for writing
// around the page cache (see directStart), and objects one byte off it,
// in sizes around the 4 KiB blocks, and reads each back.
func TestDirectWrites(t *testing.T) {
	st := newStore(t, nil)
	ctx := context.Background()
	const block = 4096
	raw := make([]byte, 64<<10+3*block)
	for i := range raw {
		raw[i] = byte(i*7 + i>>9)
	}
	at := int(uintptr(unsafe.Pointer(&raw[0])) % block)
	aligned := (64 + block - at) % block
	for _, skip := range []int{aligned, aligned + 1} {
		for _, n := range []int{0, 1, block - 64, block - 63, 2*block - 64, 2*block - 63, 5*block + 17, 64 << 10} {
			data := raw[skip : skip+n]
			key := fmt.Sprintf("d/%d-%d", skip-aligned, n)
			if _, err := st.Put(ctx, key, data, objectstore.Retention{}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			got, err := st.Get(ctx, key)
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%s: read back differs", key)
			}
		}
	}
}
