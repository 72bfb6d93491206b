package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

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
	slots, _, err := readSlots(ctx, st)
	return slots, err
}

// readSlots reads every key slot. A slot that is damaged (it fails the
// store's checksum, vanished, or cannot be parsed) is skipped and named in
// skipped, so a damaged slot nobody uses never locks anyone out. A slot
// the store failed to return is skipped too, and err says why, so a
// caller that needed it reports the store, not a wrong key.
func readSlots(ctx context.Context, st objectstore.Store) (slots []loadedSlot, skipped []Damage, err error) {
	var keys []string
	err = st.List(ctx, keysPrefix, func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list key slots: %w", err)
	}
	var storeErr error
	for _, k := range keys {
		data, err := st.Get(ctx, k)
		if err != nil {
			if !isDamage(err) && storeErr == nil {
				storeErr = fmt.Errorf("read key slot %s: %w", k, err)
			}
			skipped = append(skipped, Damage{Key: k, Reason: "key slot unreadable, skipped: " + err.Error()})
			continue
		}
		s, err := cipher.ParseSlot(data)
		if err != nil {
			skipped = append(skipped, Damage{Key: k, Reason: "key slot does not parse, skipped: " + err.Error()})
			continue
		}
		slots = append(slots, loadedSlot{id: k[len(keysPrefix):], slot: s})
	}
	return slots, skipped, storeErr
}

// unlock finds the slot that secret opens and returns the master key and
// that slot's ID. Slots skipped on the way are logged.
func unlock(ctx context.Context, st objectstore.Store, secret Secret, log *slog.Logger) (cipher.MasterKey, string, error) {
	slots, skipped, storeErr := readSlots(ctx, st)
	for _, d := range skipped {
		log.Warn("skipping an unreadable key slot", "object", d.Key, "reason", d.Reason)
	}
	if len(slots) == 0 && storeErr != nil {
		return cipher.MasterKey{}, "", storeErr
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
	if storeErr != nil {
		return cipher.MasterKey{}, "", storeErr // the slot it opens may be the one the store did not return
	}
	if len(skipped) > 0 {
		return cipher.MasterKey{}, "", fmt.Errorf("%w (%d damaged key slot(s) were skipped)", ErrWrongKey, len(skipped))
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

// Refusals of RemoveSlot without force.
var (
	// ErrSlotInUse: the slot is the one this repository was opened with.
	ErrSlotInUse = errors.New("refusing to remove the key slot in use")
	// ErrLastSlot: no other readable slot would be left to open the
	// repository with.
	ErrLastSlot = errors.New("refusing to remove the last key slot")
)

// RemoveSlot deletes a key slot. Unless force, it refuses, changing
// nothing, the last readable slot (ErrLastSlot: nobody could open the
// repository again) and the slot this repository was opened with
// (ErrSlotInUse: the caller would lock itself out).
func (r *Repository) RemoveSlot(ctx context.Context, id string, force bool) error {
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
	switch {
	case force:
	case len(slots) < 2:
		return fmt.Errorf("%w, %s", ErrLastSlot, id)
	case id == r.slotID:
		return fmt.Errorf("%w, %s", ErrSlotInUse, id)
	}
	if err := r.store.Delete(ctx, keysPrefix+id); err != nil {
		return fmt.Errorf("remove key slot %s: %w", id, err)
	}
	return nil
}
