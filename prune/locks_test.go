package prune

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"coffer/repo"
)

// TestLockedObjectsWaitForTheirLock: under object lock, a matured
// snapshot whose object another snapshot's retention step extended is
// left, reported with its unlock date, and removed by the first prune
// after that date; the plan says so up front.
func TestLockedObjectsWaitForTheirLock(t *testing.T) {
	w := newWorld(t, 4*24*time.Hour)
	ids := w.history(3)
	w.request(ids[0])
	w.clock.Advance(2 * 24 * time.Hour)
	later := w.history(1) // extends every live object's lock by 4 days
	w.clock.Advance(testDelay - 2*24*time.Hour)
	rep := w.prune(Options{})
	if len(rep.Plan.Locked) == 0 {
		t.Fatal("the plan does not say what is locked past the margin")
	}
	ex := rep.Executed[0]
	key := repo.SnapshotKey(ids[0])
	i := slices.IndexFunc(ex.Locked, func(l Locked) bool { return l.Key == key })
	if i < 0 || len(ex.Removed) != 0 {
		t.Fatalf("locked %+v, removed %v: want the snapshot object left, locked", ex.Locked, ex.Removed)
	}
	until := ex.Locked[i].Until
	if !until.After(w.clock.Now()) {
		t.Fatalf("unlock date %v is not ahead of the store's clock %v", until, w.clock.Now())
	}
	present := w.verify()
	if !slices.Contains(present, ids[0]) {
		t.Fatal("a locked snapshot went")
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{"still locked, left for a later prune: " + key + ", until " + stamp(until), "remove ", "published as prune/"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("the report does not say %q:\n%s", want, text.String())
		}
	}
	// Until its lock lapses, prunes leave it.
	w.clock.Advance(until.Sub(w.clock.Now()) - time.Hour)
	if rep := w.prune(Options{}); len(rep.Executed) == 0 || len(rep.Executed[0].Removed) != 0 {
		t.Fatalf("an hour before the lock lapses: %+v", rep.Executed)
	}
	w.clock.Advance(2 * time.Hour)
	rep = w.prune(Options{})
	if len(rep.Executed) == 0 || !slices.Contains(rep.Executed[0].Removed, ids[0]) {
		t.Fatalf("after the lock lapsed: %+v", rep.Executed)
	}
	present = w.verify()
	if slices.Contains(present, ids[0]) || !slices.Contains(present, later[0]) {
		t.Fatalf("present %v", present)
	}
}

// TestRevokedSlotRemovedAfterTheDelay: a revoked key slot stays until its
// revocation is older than the deletion delay, then a prune removes it;
// the repository still opens with the slot that is left.
func TestRevokedSlotRemovedAfterTheDelay(t *testing.T) {
	w := newWorld(t, 0)
	w.history(1)
	r := w.open()
	other := repo.Secret{Passphrase: []byte("other"), KDF: testKDF}
	slot, err := r.AddSlot(w.ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RevokeSlot(w.ctx, slot, false); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	if rep := w.prune(Options{}); len(rep.Plan.Slots) != 0 {
		t.Fatalf("planned %v before the delay", rep.Plan.Slots)
	}
	w.clock.Advance(testDelay)
	rep := w.prune(Options{})
	if len(rep.Plan.Slots) != 1 || len(rep.Executed) != 1 || rep.Executed[0].Slots != 1 {
		t.Fatalf("plan %v, executed %+v", rep.Plan.Slots, rep.Executed)
	}
	if _, err := w.st.Head(w.ctx, "keys/"+slot); err == nil {
		t.Fatal("the revoked slot is still in the store")
	}
	w.verify()
}

// TestUnindexedPackFromItsTrailer: a pack no index names (its upload's
// index never written) is judged by its trailer once older than the
// margin: unused, it goes.
func TestUnindexedPackFromItsTrailer(t *testing.T) {
	w := newWorld(t, 0)
	w.history(2)
	r := w.open()
	before := map[string]bool{}
	idx, err := r.IndexObjects(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range idx {
		before[o.Key] = true
	}
	d := w.mount("src3", nil, "")
	d.write("lost", w.randBytes())
	d.unmount()
	idx, err = d.r.IndexObjects(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range idx { // the upload's index object is lost
		if !before[o.Key] {
			info, _ := w.st.Head(w.ctx, o.Key)
			if err := w.st.DeleteVersion(w.ctx, o.Key, info.VersionID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep := w.checkReport(); rep.UnindexedPacks == 0 {
		t.Fatal("the scenario left no unindexed pack")
	}
	if rep := w.prune(Options{}); len(rep.Plan.Packs) != 0 {
		t.Fatalf("planned %+v while younger than the margin", rep.Plan.Packs)
	}
	w.clock.Advance(testMargin)
	rep := w.prune(Options{})
	if len(rep.Plan.Packs) == 0 || !rep.Plan.Packs[0].Orphan || rep.Executed[0].Packs == 0 {
		t.Fatalf("plan %+v, executed %+v", rep.Plan.Packs, rep.Executed)
	}
	w.verify()
	if rep := w.checkReport(); rep.UnindexedPacks != 0 {
		t.Fatalf("%d unindexed packs left", rep.UnindexedPacks)
	}
}
