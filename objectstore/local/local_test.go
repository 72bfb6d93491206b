package local_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"

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

// TestConcurrentExtensions: extensions of one key racing each other, and
// of other keys beside them, leave each key at the latest date asked for.
func TestConcurrentExtensions(t *testing.T) {
	st := newStore(t, nil)
	ctx := context.Background()
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	const keys, racers = 4, 8
	for k := range keys {
		if _, err := st.Put(ctx, fmt.Sprintf("k%d", k), []byte("x"), objectstore.Retention{Until: base}); err != nil {
			t.Fatal(err)
		}
	}
	var g errgroup.Group
	for k := range keys {
		for i := range racers {
			g.Go(func() error {
				until := base.Add(time.Duration((i*5)%racers+1) * time.Minute)
				return st.ExtendRetention(ctx, fmt.Sprintf("k%d", k), objectstore.Retention{Until: until})
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		info, err := st.Head(ctx, fmt.Sprintf("k%d", k))
		if err != nil {
			t.Fatal(err)
		}
		if want := base.Add(racers * time.Minute); !info.RetainUntil.Equal(want) {
			t.Errorf("k%d retained until %s, want %s", k, info.RetainUntil, want)
		}
	}
}
