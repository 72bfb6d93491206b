package repo

import (
	"context"
	"errors"
	"testing"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// heldRepo is deletionRepo opened again over a faulty view of its
// store, with one snapshot.
func heldRepo(t *testing.T) (*Repository, *memory.Store, *faulty.Store, string) {
	t.Helper()
	ctx := context.Background()
	_, mem, clock := deletionRepo(t)
	st := faulty.New(mem)
	r, err := Open(ctx, st, pass("pw"), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	tid, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Time: clock.Now(), Tree: tid}
	if err := r.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	return r, mem, st, s.ID
}

// firstVersionHeld reports the legal hold of key's first version.
func firstVersionHeld(t *testing.T, mem *memory.Store, key string) bool {
	t.Helper()
	var vid string
	if err := mem.ListVersions(context.Background(), key, func(v objectstore.Version) error {
		if vid == "" && !v.DeleteMarker {
			vid = v.VersionID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	held, err := mem.LegalHold(context.Background(), key, vid)
	if err != nil {
		t.Fatal(err)
	}
	return held
}

// TestHoldPlacesLegalHold: a hold puts a legal hold on the snapshot
// object's first version (not on a version planted over it); a release
// ends every hold on the snapshot, and the legal hold goes with the last.
func TestHoldPlacesLegalHold(t *testing.T) {
	ctx := context.Background()
	r, mem, _, id := heldRepo(t)
	me := Author{Source: "0123", Host: "web1"}
	key := snapshotPrefix + id
	// An intruder's later version must not be the one held.
	mem.Overwrite(key, []byte("planted"))
	h, legal, err := r.Hold(ctx, me, []string{id}, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if !legal.Supported || len(legal.Done) != 1 || len(legal.Failed) != 0 {
		t.Fatalf("legal holds: %+v", legal)
	}
	if !firstVersionHeld(t, mem, key) {
		t.Fatal("the snapshot object's first version carries no legal hold")
	}
	d, err := r.Deletions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Held(id) || d.Holds[0].Key != h.Key {
		t.Fatalf("held %v, holds %v", d.Held(id), d.Holds)
	}
	if _, _, err := r.Hold(ctx, me, []string{id}, "second"); err != nil {
		t.Fatal(err)
	}
	keys, legal, err := r.Release(ctx, me, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || len(legal.Done) != 1 {
		t.Fatalf("release wrote %v, legal %+v; want both holds released and the legal hold cleared", keys, legal)
	}
	if firstVersionHeld(t, mem, key) {
		t.Fatal("the legal hold outlived the last release")
	}
	if d, err = r.Deletions(ctx); err != nil || d.Held(id) {
		t.Fatalf("still held after release: %v", err)
	}
	if _, _, err := r.Release(ctx, me, []string{id}); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("release of an unheld snapshot: %v, want ErrNotHeld", err)
	}
}

// TestHoldSurvivesLegalHoldFailure: when the store refuses the legal
// hold, the hold object is written all the same and the failure is
// reported, not returned as the hold's error.
func TestHoldSurvivesLegalHoldFailure(t *testing.T) {
	ctx := context.Background()
	r, _, st, id := heldRepo(t)
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.SetLegalHold}, Err: objectstore.ErrPermission})
	_, legal, err := r.Hold(ctx, Author{Source: "0123"}, []string{id}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(legal.Failed[id], objectstore.ErrPermission) {
		t.Fatalf("legal hold failure not reported: %+v", legal)
	}
	d, err := r.Deletions(ctx)
	if err != nil || !d.Held(id) {
		t.Fatalf("the hold object was not written: %v", err)
	}
}

// TestReleaseAgainClearsALeftLegalHold: a release whose legal-hold
// clearing failed leaves the snapshot unheld for coffer but held for the
// store; releasing again clears it, and says so.
func TestReleaseAgainClearsALeftLegalHold(t *testing.T) {
	ctx := context.Background()
	r, mem, st, id := heldRepo(t)
	me := Author{Source: "0123"}
	if _, _, err := r.Hold(ctx, me, []string{id}, ""); err != nil {
		t.Fatal(err)
	}
	rule := st.Add(faulty.Fault{Ops: []faulty.Op{faulty.SetLegalHold}, Err: objectstore.ErrUnavailable, Times: 1})
	_, legal, err := r.Release(ctx, me, []string{id})
	if err != nil || !errors.Is(legal.Failed[id], objectstore.ErrUnavailable) || rule.Hits() != 1 {
		t.Fatalf("release with a failing store: %v, %+v", err, legal)
	}
	if !firstVersionHeld(t, mem, snapshotPrefix+id) {
		t.Fatal("the failed clearing cleared the legal hold")
	}
	_, legal, err = r.Release(ctx, me, []string{id})
	if !errors.Is(err, ErrNotHeld) || len(legal.Done) != 1 {
		t.Fatalf("release again: %v, %+v; want ErrNotHeld and the legal hold cleared", err, legal)
	}
	if firstVersionHeld(t, mem, snapshotPrefix+id) {
		t.Fatal("the legal hold is still on")
	}
	if _, legal, _ = r.Release(ctx, me, []string{id}); len(legal.Done) != 0 {
		t.Fatalf("a third release reports clearing %v", legal.Done)
	}
}
