package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func constFetch(v []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return v, nil }
}

func TestBlockCacheHitMiss(t *testing.T) {
	c := NewBlockCache[string](100)
	ctx := context.Background()
	v, err := c.Get(ctx, "a", constFetch([]byte("alpha")))
	if err != nil || string(v) != "alpha" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	v, err = c.Get(ctx, "a", func(context.Context) ([]byte, error) {
		t.Fatal("fetch called for a cached key")
		return nil, nil
	})
	if err != nil || string(v) != "alpha" {
		t.Fatalf("second Get = %q, %v", v, err)
	}
	if !c.Contains("a") || c.Contains("b") {
		t.Fatal("Contains wrong")
	}
	want := Stats{Hits: 1, Misses: 1, Bytes: 5, Entries: 1}
	if got := c.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

func TestBlockCacheEvictsByBytes(t *testing.T) {
	c := NewBlockCache[int](100)
	for i := range 10 {
		c.Add(i, make([]byte, 30))
	}
	if s := c.Stats(); s.Bytes != 90 || s.Entries != 3 {
		t.Fatalf("Stats = %+v, want 90 bytes in 3 entries", s)
	}
	for i := 7; i < 10; i++ {
		if !c.Contains(i) {
			t.Fatalf("most recent entry %d evicted", i)
		}
	}
	// Replacing a value must not count the old one.
	c.Add(9, make([]byte, 10))
	if s := c.Stats(); s.Bytes != 70 {
		t.Fatalf("after replace Bytes = %d, want 70", s.Bytes)
	}
	// A value above the bound is returned but not cached, and does not
	// flush the others.
	v, err := c.Get(context.Background(), 100, constFetch(make([]byte, 101)))
	if err != nil || len(v) != 101 {
		t.Fatalf("Get big = %d bytes, %v", len(v), err)
	}
	if c.Contains(100) || c.Stats().Bytes != 70 {
		t.Fatalf("oversized value cached or flushed others: %+v", c.Stats())
	}
}

func TestBlockCacheBoundUnderLoad(t *testing.T) {
	const maxBytes = 10000
	c := NewBlockCache[int](maxBytes)
	var wg sync.WaitGroup
	var over atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			for range 5000 {
				k := rng.IntN(200)
				size := 1 + k*7%500
				v, err := c.Get(context.Background(), k, constFetch(make([]byte, size)))
				if err != nil || len(v) != size {
					t.Errorf("Get(%d) = %d bytes, %v", k, len(v), err)
					return
				}
				if s := c.Stats(); s.Bytes > maxBytes {
					over.Store(s.Bytes)
				}
			}
		})
	}
	wg.Wait()
	if o := over.Load(); o != 0 {
		t.Fatalf("cache held %d bytes, bound %d", o, maxBytes)
	}
	s := c.Stats()
	if s.Hits == 0 || s.Misses == 0 || s.Hits+s.Misses != 8*5000 {
		t.Fatalf("Stats = %+v", s)
	}
	// The byte count must match the values actually held.
	var sum int64
	for k := range 200 {
		if c.Contains(k) {
			sum += int64(1 + k*7%500)
		}
	}
	if sum != s.Bytes {
		t.Fatalf("Bytes = %d, values sum to %d", s.Bytes, sum)
	}
}

func TestBlockCacheSharedFetch(t *testing.T) {
	c := NewBlockCache[string](1 << 20)
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(context.Context) ([]byte, error) {
		calls.Add(1)
		<-release
		return []byte("value"), nil
	}
	const n = 50
	var wg sync.WaitGroup
	started := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			started <- struct{}{}
			v, err := c.Get(context.Background(), "k", fetch)
			if err != nil || string(v) != "value" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	for range n {
		<-started
	}
	// Let every goroutine reach the wait before the fetch finishes.
	for c.Stats().Misses < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("fetch called %d times, want 1", got)
	}
}

func TestBlockCacheErrorsNotCached(t *testing.T) {
	c := NewBlockCache[string](1 << 20)
	boom := errors.New("boom")
	calls := 0
	fetch := func(context.Context) ([]byte, error) {
		calls++
		if calls == 1 {
			return []byte("partial"), boom
		}
		return []byte("ok"), nil
	}
	if v, err := c.Get(context.Background(), "k", fetch); !errors.Is(err, boom) || v != nil {
		t.Fatalf("first Get = %q, %v; want nil, boom", v, err)
	}
	if c.Contains("k") {
		t.Fatal("failed fetch was cached")
	}
	if v, err := c.Get(context.Background(), "k", fetch); err != nil || string(v) != "ok" {
		t.Fatalf("second Get = %q, %v", v, err)
	}
	if calls != 2 {
		t.Fatalf("fetch called %d times, want 2", calls)
	}
}

func TestBlockCacheCancelledWaiter(t *testing.T) {
	c := NewBlockCache[string](1 << 20)
	release := make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	fetch := func(ctx context.Context) ([]byte, error) {
		<-release
		fetchCtxErr <- ctx.Err()
		return []byte("v"), nil
	}
	// The first caller, whose context starts the fetch, gives up.
	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "k", fetch)
		firstDone <- err
	}()
	for c.Stats().Misses < 1 {
		time.Sleep(time.Millisecond)
	}
	// A second caller waits on the same fetch.
	secondDone := make(chan error, 1)
	go func() {
		v, err := c.Get(context.Background(), "k", fetch)
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("got %q", v)
		}
		secondDone <- err
	}()
	for c.Stats().Misses < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-firstDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Get returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancelled Get did not return")
	}
	close(release)
	if err := <-secondDone; err != nil {
		t.Fatalf("second Get: %v", err)
	}
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("fetch saw its context end: %v", err)
	}
	if !c.Contains("k") {
		t.Fatal("fetch result not cached after its first caller gave up")
	}
}
