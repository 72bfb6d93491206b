package repo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// revokeRepo makes a repository with one day of retention over a memory
// store, opened with the passphrase "pw", and adds a slot for "other".
func revokeRepo(t *testing.T) (st *memory.Store, r *Repository, other string) {
	t.Helper()
	ctx := context.Background()
	st = memory.New(time.Now)
	if _, err := Init(ctx, st, pass("pw"), InitOptions{Retention: Policy{Days: 1}, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r = openPass(t, st, "pw", false)
	other, err := r.AddSlot(ctx, pass("other"))
	if err != nil {
		t.Fatal(err)
	}
	return st, r, other
}

func pass(p string) Secret { return Secret{Passphrase: []byte(p), KDF: testKDF} }

func openPass(t *testing.T, st *memory.Store, p string, ignore bool) *Repository {
	t.Helper()
	r, err := Open(context.Background(), st, pass(p), Options{IgnoreRevocations: ignore})
	if err != nil {
		t.Fatalf("open with %q: %v", p, err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestSlotsAndConfigAreLocked: key slots, like the config, carry the
// repository's retention, so an intruder cannot delete them.
func TestSlotsAndConfigAreLocked(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	soon := time.Now().Add(23 * time.Hour)
	for _, key := range []string{configKey, keysPrefix + r.SlotID(), keysPrefix + other} {
		info, err := st.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.RetainUntil.Before(soon) {
			t.Errorf("%s: retain until %v, want a day's retention", key, info.RetainUntil)
		}
		if err := st.Delete(ctx, key); err == nil {
			t.Errorf("%s could be deleted", key)
		}
	}
}

// TestRemoveRevokesAndKeepsSlot: key remove writes a revocation; the slot
// object stays, and its passphrase no longer opens the repository.
func TestRemoveRevokesAndKeepsSlot(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if honoured, err := r.RevokeSlot(ctx, other, false); err != nil || !honoured {
		t.Fatalf("revoke: honoured %v, %v", honoured, err)
	}
	if _, err := st.Head(ctx, keysPrefix+other); err != nil {
		t.Fatalf("the revoked slot object is gone: %v", err)
	}
	if _, err := Open(ctx, st, pass("other"), Options{}); !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with the revoked slot's passphrase: %v, want ErrRevoked (an ErrWrongKey)", err)
	}
	r2 := openPass(t, st, "pw", false)
	checkSlots(t, r2, map[string]string{r.SlotID(): "usable", other: "revoked"})
	if _, err := r2.RevokeSlot(ctx, other, false); !errors.Is(err, ErrAlreadyRevoked) {
		t.Fatalf("revoking it again: %v, want ErrAlreadyRevoked", err)
	}
	var revs int
	_ = st.List(ctx, revocationsPrefix, func(i objectstore.Info) error {
		revs++
		if i.RetainUntil.Before(time.Now().Add(23 * time.Hour)) {
			t.Errorf("revocation %s is not locked: retain until %v", i.Key, i.RetainUntil)
		}
		return nil
	})
	if revs != 1 {
		t.Fatalf("%d revocation objects, want 1", revs)
	}
}

// checkSlots compares r.Slots with want: slot ID -> "usable", "revoked"
// or "unhonoured".
func checkSlots(t *testing.T, r *Repository, want map[string]string) {
	t.Helper()
	slots, err := r.Slots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range slots {
		switch {
		case s.Revoked:
			got[s.ID] = "revoked"
		case s.Unhonoured:
			got[s.ID] = "unhonoured"
		default:
			got[s.ID] = "usable"
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("slots %v, want %v", got, want)
	}
}

// TestRevokingEverySlotIsNotHonoured: a revocation that would leave no
// usable slot is not honoured, so revocations cannot lock the owner out.
func TestRevokingEverySlotIsNotHonoured(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if honoured, err := r.RevokeSlot(ctx, other, false); err != nil || !honoured {
		t.Fatalf("revoke: honoured %v, %v", honoured, err)
	}
	if honoured, err := r.RevokeSlot(ctx, r.SlotID(), true); err != nil || honoured {
		t.Fatalf("forced revocation of the last usable slot: honoured %v, %v", honoured, err)
	}
	var warnings bytes.Buffer
	log := slog.New(slog.NewTextHandler(&warnings, nil))
	r2, err := Open(ctx, st, pass("pw"), Options{Logger: log})
	if err != nil {
		t.Fatalf("the owner is locked out by revocations: %v", err)
	}
	defer r2.Close()
	if !strings.Contains(warnings.String(), "not honoured") {
		t.Fatalf("the revocation not honoured was not reported: %q", warnings.String())
	}
	checkSlots(t, r2, map[string]string{r.SlotID(): "unhonoured", other: "revoked"})
	if _, err := Open(ctx, st, pass("other"), Options{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("the slot revoked first opens again: %v", err)
	}
	// A slot added later does not wake the revocation that was not honoured.
	if _, err := r2.AddSlot(ctx, pass("third")); err != nil {
		t.Fatal(err)
	}
	openPass(t, st, "pw", false).Close()
}

// TestIgnoreRevocations: the owner of a revoked slot's passphrase opens the
// repository when asked to ignore revocations, as after an intruder
// revoked the owner's slots and left only a slot of its own.
func TestIgnoreRevocations(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if _, err := r.RevokeSlot(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	r2 := openPass(t, st, "other", true)
	if r2.SlotID() != other {
		t.Fatalf("opened with slot %s, want the revoked %s", r2.SlotID(), other)
	}
	checkSlots(t, r2, map[string]string{r.SlotID(): "usable", other: "revoked"})
}

// TestRevocationFollowsSlotBytes: a revocation names the slot by its
// bytes, so the same slot uploaded again under another name is revoked
// too, and junk planted among revocations is skipped.
func TestRevocationFollowsSlotBytes(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if _, err := r.RevokeSlot(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	data, err := st.Get(ctx, keysPrefix+other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := putVerified(ctx, st, keysPrefix+"00112233aabbccdd", data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	if _, err := putVerified(ctx, st, revocationsPrefix+"00112233445566778899aabbccddeeff", []byte("junk"), objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, st, pass("other"), Options{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a copy of the revoked slot opens: %v, want ErrRevoked", err)
	}
	r2 := openPass(t, st, "pw", false)
	checkSlots(t, r2, map[string]string{r.SlotID(): "usable", other: "revoked", "00112233aabbccdd": "revoked"})
}

// TestRevokeRefusals: without force, the slot in use and the last usable
// slot are refused, and nothing is written.
func TestRevokeRefusals(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if _, err := r.RevokeSlot(ctx, r.SlotID(), false); !errors.Is(err, ErrSlotInUse) {
		t.Fatalf("revoke the slot in use: %v, want ErrSlotInUse", err)
	}
	if _, err := r.RevokeSlot(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	r2 := openPass(t, st, "pw", false)
	if _, err := r2.AddSlot(ctx, pass("third")); err != nil {
		t.Fatal(err)
	}
	r3 := openPass(t, st, "third", false)
	// pw's slot is not in use by r3 but is the last usable one besides
	// r3's; revoking r3's own slot then leaves pw's.
	if _, err := r3.RevokeSlot(ctx, r.SlotID(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := r3.RevokeSlot(ctx, r3.SlotID(), false); !errors.Is(err, ErrLastSlot) {
		t.Fatalf("revoke the last usable slot: %v, want ErrLastSlot", err)
	}
	if _, err := r3.RevokeSlot(ctx, "0000000000000000", false); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("revoke a slot that does not exist: %v, want ErrNotFound", err)
	}
	n := 0
	_ = st.List(ctx, revocationsPrefix, func(objectstore.Info) error { n++; return nil })
	if n != 2 {
		t.Fatalf("%d revocations written, want 2 (refusals write nothing)", n)
	}
}

// TestPasswdKeepsOldSlot: changing the passphrase (a new slot, then the
// old one revoked with force) leaves the old slot object in place.
func TestPasswdKeepsOldSlot(t *testing.T) {
	ctx := context.Background()
	st, r, _ := revokeRepo(t)
	old := r.SlotID()
	if _, err := r.AddSlot(ctx, pass("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RevokeSlot(ctx, old, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Head(ctx, keysPrefix+old); err != nil {
		t.Fatalf("passwd deleted the old slot: %v", err)
	}
	if _, err := Open(ctx, st, pass("pw"), Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old passphrase after passwd: %v, want ErrWrongKey", err)
	}
	openPass(t, st, "new", false)
}

// TestKeyObjects: what retention extension must keep locked is every slot
// not revoked and every revocation.
func TestKeyObjects(t *testing.T) {
	ctx := context.Background()
	_, r, other := revokeRepo(t)
	if _, err := r.RevokeSlot(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	slots, revs, err := r.KeyObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 1 || slots[0] != keysPrefix+r.SlotID() || len(revs) != 1 || !strings.HasPrefix(revs[0], revocationsPrefix) {
		t.Fatalf("KeyObjects: slots %q, revocations %q", slots, revs)
	}
}

// TestIntruderRevocations: an intruder holding the key adds a slot of its
// own and revokes the owner's. The owner's passphrase opens again with
// IgnoreRevocations, and a slot added then is one no revocation names.
func TestIntruderRevocations(t *testing.T) {
	ctx := context.Background()
	st, r, other := revokeRepo(t)
	if _, err := r.AddSlot(ctx, pass("evil")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{other, r.SlotID()} {
		if honoured, err := r.RevokeSlot(ctx, id, true); err != nil || !honoured {
			t.Fatalf("revoke %s: honoured %v, %v", id, honoured, err)
		}
	}
	for _, p := range []string{"pw", "other"} {
		if _, err := Open(ctx, st, pass(p), Options{}); !errors.Is(err, ErrRevoked) {
			t.Fatalf("open with %q: %v, want ErrRevoked", p, err)
		}
	}
	owner := openPass(t, st, "pw", true)
	if _, err := owner.AddSlot(ctx, pass("fresh")); err != nil {
		t.Fatal(err)
	}
	openPass(t, st, "fresh", false)
}
