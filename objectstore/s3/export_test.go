package s3

import (
	"context"

	"coffer/objectstore"
)

// ListVersionsPaged is ListVersions with pages of pageSize entries, so
// tests can make a key's versions span pages.
func (s *Store) ListVersionsPaged(ctx context.Context, prefix string, pageSize int32, fn func(objectstore.Version) error) error {
	return s.listVersions(ctx, prefix, pageSize, fn)
}
