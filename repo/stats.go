package repo

import "coffer/cipher"

// StoredSize is how many bytes block id takes in the store: its sealed
// length in the pack the index tries first. False if no index names it.
func (r *Repository) StoredSize(id cipher.ID) (int64, bool) {
	loc, ok := r.index.get(id)
	if !ok {
		return 0, false
	}
	return int64(loc.Len), true
}

// IndexedBytes totals what the index knows: the blocks it names and
// their stored (sealed) bytes, each block once whatever its copies.
// Blocks no snapshot uses count too, so the difference from what the
// snapshots reference is what a prune could free.
func (r *Repository) IndexedBytes() (blocks int, bytes int64) {
	r.index.mu.RLock()
	defer r.index.mu.RUnlock()
	for _, loc := range r.index.blocks {
		blocks++
		bytes += int64(loc.Len)
	}
	return blocks, bytes
}
