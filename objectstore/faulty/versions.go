package faulty

import (
	"context"
	"time"

	"coffer/objectstore"
)

// ListVersions lists the prefix's versions unless a rule hits the call.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	return s.do(ctx, ListVersions, prefix, func() error { return s.inner.ListVersions(ctx, prefix, fn) })
}

// GetVersion reads one version unless a rule hits the call.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) ([]byte, error) {
	var data []byte
	err := s.do(ctx, GetVersion, key, func() (err error) {
		data, err = s.inner.GetVersion(ctx, key, versionID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// GetVersionRange reads part of one version unless a rule hits the call.
func (s *Store) GetVersionRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	var data []byte
	err := s.do(ctx, GetVersionRange, key, func() (err error) {
		data, err = s.inner.GetVersionRange(ctx, key, versionID, off, length)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// ExtendRetentionVersion extends one version's retention unless a rule
// hits the call.
func (s *Store) ExtendRetentionVersion(ctx context.Context, key, versionID string, ret objectstore.Retention) error {
	return s.do(ctx, ExtendRetentionVersion, key, func() error {
		return s.inner.ExtendRetentionVersion(ctx, key, versionID, ret)
	})
}

// DeleteVersion removes one version unless a rule hits the call.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	return s.do(ctx, DeleteVersion, key, func() error { return s.inner.DeleteVersion(ctx, key, versionID) })
}

// Now tells the inner store's time unless a rule hits the call (a rule
// with a Prefix never does: Now has no key).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	err := s.do(ctx, Now, "", func() (err error) {
		now, err = s.inner.Now(ctx)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return now, nil
}
