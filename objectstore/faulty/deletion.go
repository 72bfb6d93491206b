package faulty

import (
	"context"
	"errors"
	"fmt"

	"coffer/objectstore"
)

// The optional interfaces pass through to the inner store, so a wrapped
// memory store keeps its legal holds and its delete prober; on an inner
// store without them the calls fail with errors.ErrUnsupported.
var (
	_ objectstore.LegalHolder  = (*Store)(nil)
	_ objectstore.DeleteProber = (*Store)(nil)
)

// SetLegalHold places or clears a hold unless a rule hits the call.
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	return s.do(ctx, SetLegalHold, key, func() error {
		lh, ok := s.inner.(objectstore.LegalHolder)
		if !ok {
			return fmt.Errorf("faulty: %T has no legal holds: %w", s.inner, errors.ErrUnsupported)
		}
		return lh.SetLegalHold(ctx, key, versionID, on)
	})
}

// LegalHold reads a hold unless a rule hits the call.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	var held bool
	err := s.do(ctx, LegalHold, key, func() (err error) {
		lh, ok := s.inner.(objectstore.LegalHolder)
		if !ok {
			return fmt.Errorf("faulty: %T has no legal holds: %w", s.inner, errors.ErrUnsupported)
		}
		held, err = lh.LegalHold(ctx, key, versionID)
		return err
	})
	return held && err == nil, err
}

// CanDeleteVersions asks the inner store unless a rule hits the call (a
// rule with a Prefix never does: it has no key).
func (s *Store) CanDeleteVersions(ctx context.Context) (bool, error) {
	var can bool
	err := s.do(ctx, CanDeleteVersions, "", func() (err error) {
		p, ok := s.inner.(objectstore.DeleteProber)
		if !ok {
			return fmt.Errorf("faulty: %T cannot tell whether it may delete versions: %w", s.inner, errors.ErrUnsupported)
		}
		can, err = p.CanDeleteVersions(ctx)
		return err
	})
	return can && err == nil, err
}
