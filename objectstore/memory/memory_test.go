package memory_test

import (
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
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

func TestConformance(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return memory.New(clock.Now)
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now})
}
