package repo

import (
	"fmt"
)

// A head checkpoint records the writable head between snapshots so that a
// daemon that dies can resume it: it has the shape of a snapshot (its
// Parent is the snapshot the head started from) but is never stored as
// one. It lives on the local disk, sealed like every other record, and
// names only trees and blocks already durable in the store.

// SealHead seals a head checkpoint for local storage.
func (r *Repository) SealHead(s *Snapshot) ([]byte, error) {
	data, err := marshalSnapshot(s)
	if err != nil {
		return nil, err
	}
	return r.keys.Metadata().Seal(nil, data, objectAD(r.id, "head", "head")), nil
}

// OpenHead opens what SealHead sealed.
func (r *Repository) OpenHead(sealed []byte) (*Snapshot, error) {
	plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "head", "head"))
	if err != nil {
		return nil, fmt.Errorf("head checkpoint: %w: %v", ErrCorrupt, err)
	}
	s, err := parseSnapshot(plain)
	if err != nil {
		return nil, fmt.Errorf("head checkpoint: %w", err)
	}
	return s, nil
}
