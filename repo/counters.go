package repo

import "sync/atomic"

// counters are the repository's running totals since Open, for metrics.
// Each is updated where the thing it counts happens; none is ever reset.
type counters struct {
	written      atomic.Int64 // plaintext bytes of data blocks given to SaveBlock
	deduplicated atomic.Int64 // of those, bytes already stored or on their way
	uploaded     atomic.Int64 // bytes of objects stored (packs, index, snapshots, records)
	objects      atomic.Int64 // objects stored
	putErrors    atomic.Int64 // failed store writes, each attempt counted
	putRetries   atomic.Int64 // store writes tried again after a failure
}

// Counters are running totals since the repository was opened, and its
// state now. They only grow, except PacksPending and the cache's size.
type Counters struct {
	Written      int64 // plaintext bytes of file data written
	Deduplicated int64 // of Written, bytes found already stored (not stored again)
	Uploaded     int64 // bytes the store accepted
	Objects      int64 // objects the store accepted
	UploadErrors int64 // store writes that failed (each attempt)
	Retries      int64 // store writes tried again after a failure
	PacksPending int   // sealed packs not yet durable: uploading, retrying or queued
	CacheHits    uint64
	CacheMisses  uint64
	CacheBytes   int64 // decrypted blocks held in memory now
}

// Counters returns the running totals.
func (r *Repository) Counters() Counters {
	p := r.packer
	p.mu.Lock()
	pending := len(p.queue) + p.running
	p.mu.Unlock()
	cs := r.blocks.Stats()
	return Counters{
		Written:      r.count.written.Load(),
		Deduplicated: r.count.deduplicated.Load(),
		Uploaded:     r.count.uploaded.Load(),
		Objects:      r.count.objects.Load(),
		UploadErrors: r.count.putErrors.Load(),
		Retries:      r.count.putRetries.Load(),
		PacksPending: pending,
		CacheHits:    cs.Hits,
		CacheMisses:  cs.Misses,
		CacheBytes:   cs.Bytes,
	}
}

// countPut counts one attempt to store n bytes.
func (c *counters) countPut(n int, err error) {
	if err != nil {
		c.putErrors.Add(1)
		return
	}
	c.uploaded.Add(int64(n))
	c.objects.Add(1)
}

// countData counts n bytes of file data given to SaveBlock, dup if they
// were already stored.
func (c *counters) countData(t BlockType, n int, dup bool) {
	if t != DataBlock {
		return
	}
	c.written.Add(int64(n))
	if dup {
		c.deduplicated.Add(int64(n))
	}
}
