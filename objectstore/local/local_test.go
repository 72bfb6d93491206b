package local_test

import (
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/storetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

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
	clock := &fakeClock{now: time.Now()}
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return newStore(t, clock.Now)
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now})
}
