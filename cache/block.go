package cache

import (
	"context"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Stats is a snapshot of a cache's counters.
type Stats struct {
	Hits    uint64 // Gets answered from the cache
	Misses  uint64 // Gets that waited for a fetch (their own or a shared one)
	Bytes   int64  // sum of the lengths of the cached values
	Entries int    // number of cached values
}

// BlockCache is a least-recently-used cache of byte slices, bounded by the
// sum of their lengths. Concurrent Gets of a missing key share one fetch.
// It is safe for concurrent use. Values are shared between callers and must
// not be modified, neither after Add nor after Get returns them.
type BlockCache[K comparable] struct {
	maxBytes int64

	mu sync.Mutex
	// Guarded by mu.
	lru      *simplelru.LRU[K, []byte] // entry count unbounded; bytes bound it
	bytes    int64                     // sum of len(v) over lru's values
	inflight map[K]*fetchCall          // fetches running now, by key
	hits     uint64
	misses   uint64
}

// fetchCall is one fetch shared by every Get of its key that arrives while
// it runs. val and err are written once, before done is closed.
type fetchCall struct {
	done chan struct{}
	val  []byte
	err  error
}

// NewBlockCache returns an empty cache holding at most maxBytes bytes of
// values. A value longer than maxBytes is never cached.
func NewBlockCache[K comparable](maxBytes int64) *BlockCache[K] {
	c := &BlockCache[K]{
		maxBytes: maxBytes,
		inflight: make(map[K]*fetchCall),
	}
	// NewLRU fails only for a non-positive size.
	c.lru, _ = simplelru.NewLRU[K, []byte](math.MaxInt, c.onEvict)
	return c
}

// onEvict keeps the byte count true whenever the LRU drops an entry. It runs
// with mu held, from inside lru's methods.
func (c *BlockCache[K]) onEvict(_ K, v []byte) {
	c.bytes -= int64(len(v))
}

// Get returns the cached value for key, or calls fetch once (even when many
// goroutines ask for the same missing key at the same time: they all wait
// for that one fetch) and caches its result if it is not an error. Errors
// are returned to every waiter of that fetch and never cached.
//
// The fetch runs on its own goroutine with a context that carries the values
// of the first caller's ctx but not its cancellation, so a cancelled caller
// does not fail the fetch for the others. A caller whose ctx ends first
// returns ctx.Err() at once; the fetch still completes and fills the cache.
func (c *BlockCache[K]) Get(ctx context.Context, key K, fetch func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if v, ok := c.lru.Get(key); ok {
		c.hits++
		c.mu.Unlock()
		return v, nil
	}
	c.misses++
	call, ok := c.inflight[key]
	if !ok {
		call = &fetchCall{done: make(chan struct{})}
		c.inflight[key] = call
		go c.runFetch(context.WithoutCancel(ctx), key, call, fetch)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runFetch performs call's fetch, caches a successful result and wakes the
// waiters.
func (c *BlockCache[K]) runFetch(ctx context.Context, key K, call *fetchCall, fetch func(ctx context.Context) ([]byte, error)) {
	val, err := fetch(ctx)
	if err != nil {
		val = nil
	}
	c.mu.Lock()
	delete(c.inflight, key)
	if err == nil {
		c.addLocked(key, val)
	}
	c.mu.Unlock()
	call.val, call.err = val, err
	close(call.done)
}

// Add caches value under key, replacing any older value, and evicts the
// least recently used values until the cache is within its bound. A value
// longer than the bound is not cached (and an older value for key is
// dropped).
func (c *BlockCache[K]) Add(key K, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(key, value)
}

func (c *BlockCache[K]) addLocked(key K, value []byte) {
	// simplelru replaces an existing value without calling onEvict, so
	// drop the old entry explicitly to keep bytes true.
	c.lru.Remove(key)
	if int64(len(value)) > c.maxBytes {
		return
	}
	c.lru.Add(key, value)
	c.bytes += int64(len(value))
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// Peek returns key's cached value without fetching it, counting a hit
// and refreshing its recency when it is there. A batch reader uses it to
// skip what is cached and fetch the rest together.
func (c *BlockCache[K]) Peek(key K) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.lru.Get(key)
	if ok {
		c.hits++
	}
	return v, ok
}

// Contains reports whether key is cached, without counting a hit or
// refreshing its recency.
func (c *BlockCache[K]) Contains(key K) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Contains(key)
}

// Stats returns the cache's counters.
func (c *BlockCache[K]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Bytes: c.bytes, Entries: c.lru.Len()}
}
