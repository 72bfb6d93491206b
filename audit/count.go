package audit

import (
	"context"
	"strings"
	"sync"

	"coffer/objectstore"
)

// Counter is a Store that counts the objects and bytes written through
// it, audit records aside, so a commit record can say what a snapshot
// cost the store. Every other call passes through.
type Counter struct {
	objectstore.Store

	mu      sync.Mutex // guards the counts
	objects int64
	bytes   int64
}

// CountWrites wraps st in a Counter.
func CountWrites(st objectstore.Store) *Counter { return &Counter{Store: st} }

// Put stores data and counts it once it is stored.
func (c *Counter) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	vid, err := c.Store.Put(ctx, key, data, ret)
	if err == nil && !strings.HasPrefix(key, Prefix) { // the records are not the snapshot's cost
		c.mu.Lock()
		c.objects++
		c.bytes += int64(len(data))
		c.mu.Unlock()
	}
	return vid, err
}

// Take returns the objects and bytes written since the last Take, and
// starts counting again from zero.
func (c *Counter) Take() (objects, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	objects, bytes = c.objects, c.bytes
	c.objects, c.bytes = 0, 0
	return objects, bytes
}
