package repo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// SlotInfo describes one key slot.
type SlotInfo struct {
	ID   string // the slot's object name under keys/
	Kind string // "passphrase" or "keyfile"
	// Revoked: an honoured revocation names the slot; coffer no longer
	// opens the repository with it (unless told to ignore revocations).
	Revoked bool
	// Unhonoured: a revocation names the slot but is not honoured, because
	// it would have left no usable slot; the slot still opens.
	Unhonoured bool
}

// putSlot wraps mk with secret and stores it as a new key slot, locked
// with ret like every other object: deleting slots would be a ransom (the
// data stays, locked and unreadable). A slot is retired by a revocation.
func putSlot(ctx context.Context, st objectstore.Store, secret Secret, mk cipher.MasterKey, ret objectstore.Retention) (string, error) {
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
	if _, err := putVerified(ctx, st, keysPrefix+id, data, ret); err != nil {
		return "", fmt.Errorf("write key slot: %w", err)
	}
	return id, nil
}

type loadedSlot struct {
	id       string
	slot     *cipher.Slot
	sum      [32]byte  // SHA-256 of the slot object's bytes, as revocations name it
	modified time.Time // the store's upload time of the slot object
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
	var keys []objectstore.Info
	err = st.List(ctx, keysPrefix, func(i objectstore.Info) error {
		keys = append(keys, i)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list key slots: %w", err)
	}
	var storeErr error
	for _, info := range keys {
		k := info.Key
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
		slots = append(slots, loadedSlot{id: k[len(keysPrefix):], slot: s, sum: sha256.Sum256(data), modified: info.Modified})
	}
	return slots, skipped, storeErr
}

// unlock finds the slot that secret opens and returns the master key and
// that slot's ID, without regard to revocations (init, whose config is
// not written yet, has none). Slots skipped on the way are logged.
func unlock(ctx context.Context, st objectstore.Store, secret Secret, log *slog.Logger) (cipher.MasterKey, string, error) {
	return unlockSlot(ctx, st, secret, nil, true, log)
}

// unlockSlot is unlock for the repository repoID: once a slot opens, the
// revocations are read with the master key, and a revoked slot is passed
// over for another the secret opens (ErrRevoked if there is none), unless
// ignore. Revocations not honoured, or unreadable, are logged.
func unlockSlot(ctx context.Context, st objectstore.Store, secret Secret, repoID []byte, ignore bool, log *slog.Logger) (cipher.MasterKey, string, error) {
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
	var j *judgement // known once a slot has opened
	revoked := ""    // a revoked slot the secret opens
	for _, s := range slots {
		if s.slot.Kind() != secret.kind() || (j != nil && j.revoked[s.id]) {
			continue
		}
		mk, err := s.slot.Unwrap(secret.bytes())
		if errors.Is(err, cipher.ErrAuth) {
			continue
		}
		if err != nil {
			return cipher.MasterKey{}, "", err
		}
		if repoID == nil {
			return mk, s.id, nil
		}
		if j == nil {
			jj, err := judgeStored(ctx, st, cipher.DeriveKeys(mk, repoID), repoID, slots)
			if err != nil {
				return cipher.MasterKey{}, "", err
			}
			j = &jj
			for _, d := range j.notes {
				log.Warn("key slot revocation", "object", d.Key, "reason", d.Reason)
			}
		}
		if !j.revoked[s.id] {
			return mk, s.id, nil
		}
		if ignore {
			log.Warn("opening with a revoked key slot, as --ignore-revocations asks", "slot", s.id)
			return mk, s.id, nil
		}
		revoked = s.id
	}
	if storeErr != nil {
		return cipher.MasterKey{}, "", storeErr // the slot it opens may be the one the store did not return
	}
	if revoked != "" {
		return cipher.MasterKey{}, "", fmt.Errorf("%w (slot %s)", ErrRevoked, revoked)
	}
	if len(skipped) > 0 {
		return cipher.MasterKey{}, "", fmt.Errorf("%w (%d damaged key slot(s) were skipped)", ErrWrongKey, len(skipped))
	}
	return cipher.MasterKey{}, "", ErrWrongKey
}

// Slots lists the repository's key slots, each with its revocation state.
func (r *Repository) Slots(ctx context.Context) ([]SlotInfo, error) {
	slots, _, _, err := r.CheckSlots(ctx)
	return slots, err
}

// SlotID is the ID of the key slot this repository was opened with.
func (r *Repository) SlotID() string { return r.slotID }

// AddSlot stores a new key slot for secret and returns its ID. No data
// object changes.
func (r *Repository) AddSlot(ctx context.Context, secret Secret) (string, error) {
	return putSlot(ctx, r.store, secret, r.master, r.retention())
}

// Refusals of RevokeSlot without force.
var (
	// ErrSlotInUse: the slot is the one this repository was opened with.
	ErrSlotInUse = errors.New("refusing to remove the key slot in use")
	// ErrLastSlot: no other readable slot would be left to open the
	// repository with.
	ErrLastSlot = errors.New("refusing to remove the last key slot")
)
