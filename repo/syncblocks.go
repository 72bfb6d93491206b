package repo

import "context"

// SyncBlocks returns once every block in refs is durable in the store: at
// once, without a request, when each is already stored; otherwise after a
// Flush.
func (r *Repository) SyncBlocks(ctx context.Context, refs []BlockRef) error {
	for _, b := range refs {
		if !r.index.has(b.ID) {
			return r.Flush(ctx)
		}
	}
	return nil
}
