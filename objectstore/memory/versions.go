package memory

import (
	"context"
	"fmt"
	"slices"

	"coffer/objectstore"
)

// Delete removes the current version unless its retention has not yet
// passed; the previous version, if any, becomes current.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.current("delete", key)
	if err != nil {
		return err
	}
	return s.remove("delete", key, v)
}

// remove drops version v of key unless it is retained or held; s.mu must
// be held.
func (s *Store) remove(op, key string, v *version) error {
	if v.held {
		return fmt.Errorf("memory %s %s version %s: under a legal hold: %w", op, key, v.id, objectstore.ErrRetained)
	}
	if v.retention.Until.After(s.clock()) {
		return fmt.Errorf("memory %s %s version %s: retained until %v: %w",
			op, key, v.id, v.retention.Until, objectstore.ErrRetained)
	}
	vs := slices.DeleteFunc(s.keys[key], func(x *version) bool { return x == v })
	if len(vs) == 0 {
		delete(s.keys, key)
	} else {
		s.keys[key] = vs
	}
	return nil
}

// ExtendRetention extends the retention of key's first version that is
// not a delete marker: the one Put wrote, whatever came after it.
func (s *Store) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.first("extend retention", key)
	if err != nil {
		return err
	}
	v.extend(ret)
	return nil
}

// ExtendRetentionVersion moves one version's retain-until date later,
// never earlier; an existing mode is kept.
func (s *Store) ExtendRetentionVersion(ctx context.Context, key, versionID string, ret objectstore.Retention) error {
	return s.onVersion(ctx, "extend retention", key, versionID, func(v *version) { v.extend(ret) })
}

// onVersion runs fn on key's version versionID (not a delete marker)
// under s.mu, or returns why it cannot.
func (s *Store) onVersion(ctx context.Context, op, key, versionID string, fn func(*version)) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.byID(op, key, versionID)
	if err != nil {
		return err
	}
	fn(v)
	return nil
}

// extend moves v's retain-until to ret's if that is later, keeping a mode
// already set (an unset one becomes ret's, else COMPLIANCE).
func (v *version) extend(ret objectstore.Retention) {
	if ret.IsZero() || !ret.Until.After(v.retention.Until) {
		return
	}
	mode := v.retention.Mode
	if mode == "" {
		mode = ret.Mode
	}
	if mode == "" {
		mode = objectstore.Compliance
	}
	v.retention = objectstore.Retention{Mode: mode, Until: ret.Until}
}

// Overwrite stores data as a new version of key (a PUT without
// If-None-Match), as an intruder holding coffer's credentials could. It
// returns the new version's ID.
func (s *Store) Overwrite(key string, data []byte) (versionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(key, &version{data: slices.Clone(data)}).id
}

// Hide places a delete marker on key (DELETE without a version ID), as an
// intruder could: object lock does not prevent it. It returns the
// marker's version ID.
func (s *Store) Hide(key string) (versionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(key, &version{marker: true}).id
}

// DeleteVersion removes one version or delete marker; ErrRetained while
// its retention or a legal hold holds, ErrNotFound if there is no such
// version. It is the Store contract's method, and also what an intruder
// holding delete permission could do, so intruder scenarios use it too.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.keys[key] {
		if v.id == versionID {
			return s.remove("delete version", key, v)
		}
	}
	return fmt.Errorf("memory delete %s version %q: %w", key, versionID, objectstore.ErrNotFound)
}

// SetLegalHold places or clears the legal hold on one version (not a
// delete marker).
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	return s.onVersion(ctx, "legal hold", key, versionID, func(v *version) { v.held = on })
}

// LegalHold reports whether one version is under a legal hold.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	var held bool
	err := s.onVersion(ctx, "legal hold", key, versionID, func(v *version) { held = v.held })
	return held, err
}

// CanDeleteVersions is always true: the memory store has no credentials.
func (s *Store) CanDeleteVersions(ctx context.Context) (bool, error) {
	return true, ctx.Err()
}
