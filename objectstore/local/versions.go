package local

import (
	"context"
	"fmt"
	"time"

	"coffer/objectstore"
)

// VersionID is the ID of every object's one version. A directory has no
// versions: Put never replaces a file (link(2) refuses), and nothing
// places delete markers, so each present key has exactly one version and
// the ID names it stably. A key deleted and put again gets the same ID,
// which only prune could cause, on an object it decided to remove.
const VersionID = "1"

// Now is the store's clock: this machine's, or the one New was given.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	return s.clock(), nil
}

// checkVersion checks the key, then returns ErrNotFound for any ID but
// VersionID.
func checkVersion(op, key, versionID string) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	if versionID != VersionID {
		return fmt.Errorf("local %s %s version %q: %w", op, key, versionID, objectstore.ErrNotFound)
	}
	return nil
}

// ListVersions reports each key under prefix with its one version, in
// lexical order, as List finds them.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	return s.List(ctx, prefix, func(info objectstore.Info) error {
		return fn(objectstore.Version{Key: info.Key, VersionID: VersionID, Modified: info.Modified, Size: info.Size})
	})
}

// GetVersion reads the object if versionID is its one version's.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) ([]byte, error) {
	if err := checkVersion("get", key, versionID); err != nil {
		return nil, err
	}
	return s.Get(ctx, key)
}

// GetVersionRange reads part of the object if versionID is its one
// version's.
func (s *Store) GetVersionRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	if err := checkVersion("get range", key, versionID); err != nil {
		return nil, err
	}
	return s.GetRange(ctx, key, off, length)
}

// ExtendRetentionVersion extends the object's retention if versionID is
// its one version's.
func (s *Store) ExtendRetentionVersion(ctx context.Context, key, versionID string, ret objectstore.Retention) error {
	if err := checkVersion("extend retention", key, versionID); err != nil {
		return err
	}
	return s.ExtendRetention(ctx, key, ret)
}

// DeleteVersion removes the object if versionID is its one version's,
// refusing while its retention lasts, as Delete does.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkVersion("delete", key, versionID); err != nil {
		return err
	}
	return s.Delete(ctx, key)
}

// CanDeleteVersions is always true: a directory has no credentials beyond
// the file permissions, which Delete reports as they are.
func (s *Store) CanDeleteVersions(ctx context.Context) (bool, error) {
	return true, ctx.Err()
}
