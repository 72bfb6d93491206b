package cache

// Free evicts least recently used blobs until at least n bytes are freed
// or the cache is empty, and returns how many bytes it freed. Local state
// that must not be lost (the head checkpoint) uses it to make room on a
// full disk.
func (c *DiskCache) Free(n int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.bytes
	c.evictLocked(max(0, c.bytes-n))
	return before - c.bytes
}
