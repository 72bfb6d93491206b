package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"coffer/cipher"
	"coffer/objectstore"
)

// SlotInfo describes one key slot.
type SlotInfo struct {
	ID   string // the slot's object name under keys/
	Kind string // "passphrase" or "keyfile"
}

// putSlot wraps mk with secret and stores it as a new key slot. Key slots
// carry no retention: removing a slot must really remove it, or a leaked
// old passphrase would still open the repository.
func putSlot(ctx context.Context, st objectstore.Store, secret Secret, mk cipher.MasterKey) (string, error) {
	slot, err := secret.wrap(mk)
	if err != nil {
		return "", err
	}
	data, err := slot.Marshal()
	if err != nil {
		return "", err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if _, err := putVerified(ctx, st, keysPrefix+id, data, objectstore.Retention{}); err != nil {
		return "", fmt.Errorf("write key slot: %w", err)
	}
	return id, nil
}

type loadedSlot struct {
	id   string
	slot *cipher.Slot
}

func listSlots(ctx context.Context, st objectstore.Store) ([]loadedSlot, error) {
	var keys []string
	err := st.List(ctx, keysPrefix, func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list key slots: %w", err)
	}
	var out []loadedSlot
	for _, k := range keys {
		data, err := st.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("read key slot %s: %w", k, err)
		}
		s, err := cipher.ParseSlot(data)
		if err != nil {
			// A corrupt slot must not lock the user out of the others.
			continue
		}
		out = append(out, loadedSlot{id: k[len(keysPrefix):], slot: s})
	}
	return out, nil
}

// unlock finds the slot that secret opens and returns the master key and
// that slot's ID.
func unlock(ctx context.Context, st objectstore.Store, secret Secret) (cipher.MasterKey, string, error) {
	slots, err := listSlots(ctx, st)
	if err != nil {
		return cipher.MasterKey{}, "", err
	}
	if len(slots) == 0 {
		return cipher.MasterKey{}, "", fmt.Errorf("%w: the repository has no readable key slot", ErrCorrupt)
	}
	for _, s := range slots {
		if s.slot.Kind() != secret.kind() {
			continue
		}
		mk, err := s.slot.Unwrap(secret.bytes())
		if errors.Is(err, cipher.ErrAuth) {
			continue
		}
		if err != nil {
			return cipher.MasterKey{}, "", err
		}
		return mk, s.id, nil
	}
	return cipher.MasterKey{}, "", ErrWrongKey
}

// Slots lists the repository's key slots.
func (r *Repository) Slots(ctx context.Context) ([]SlotInfo, error) {
	slots, err := listSlots(ctx, r.store)
	if err != nil {
		return nil, err
	}
	out := make([]SlotInfo, 0, len(slots))
	for _, s := range slots {
		out = append(out, SlotInfo{ID: s.id, Kind: s.slot.Kind()})
	}
	return out, nil
}

// SlotID is the ID of the key slot this repository was opened with.
func (r *Repository) SlotID() string { return r.slotID }

// AddSlot stores a new key slot for secret and returns its ID. No data
// object changes.
func (r *Repository) AddSlot(ctx context.Context, secret Secret) (string, error) {
	return putSlot(ctx, r.store, secret, r.master)
}

// RemoveSlot deletes a key slot. It refuses to remove the last one.
func (r *Repository) RemoveSlot(ctx context.Context, id string) error {
	slots, err := listSlots(ctx, r.store)
	if err != nil {
		return err
	}
	found := false
	for _, s := range slots {
		found = found || s.id == id
	}
	if !found {
		return fmt.Errorf("key slot %q: %w", id, objectstore.ErrNotFound)
	}
	if len(slots) < 2 {
		return errors.New("refusing to remove the last key slot: the repository would be unreadable")
	}
	if err := r.store.Delete(ctx, keysPrefix+id); err != nil {
		return fmt.Errorf("remove key slot %s: %w", id, err)
	}
	return nil
}
