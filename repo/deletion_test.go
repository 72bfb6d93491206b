package repo

import (
	"context"
	"testing"
	"time"

	"coffer/objectstore/memory"
	"coffer/objectstore/storetest"
)

// deletionRepo is a repository over a memory store whose clock the test
// moves, with a one-hour deletion delay.
func deletionRepo(t *testing.T) (*Repository, *memory.Store, *storetest.Clock) {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(clock.Now)
	if _, err := Init(ctx, st, pass("pw"), InitOptions{
		Retention: PolicyFor("", 2*time.Hour),
		Deletion:  NewDeletionSettings(time.Hour, time.Minute, true),
		Now:       clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, pass("pw"), Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, st, clock
}

// TestDeletionRequestMaturesByTheStoresClock: a request is due the delay
// after the store received it, cancellation ends it for the snapshots it
// names, asking again starts a new delay, and a hold keeps a due snapshot.
func TestDeletionRequestMaturesByTheStoresClock(t *testing.T) {
	ctx := context.Background()
	r, _, clock := deletionRepo(t)
	if r.DeletionDelay() != time.Hour || r.PruneMargin() != time.Minute || !r.UnsafeDelays() {
		t.Fatalf("settings: delay %v margin %v unsafe %v", r.DeletionDelay(), r.PruneMargin(), r.UnsafeDelays())
	}
	me := Author{Source: "0123", Host: "web1"}
	a, b := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	req, err := r.RequestDeletion(ctx, me, []string{a, b}, "coffer forget a b")
	if err != nil {
		t.Fatal(err)
	}
	if !req.Due.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("due %v, want the store's now plus the delay", req.Due)
	}
	clock.Advance(59 * time.Minute)
	d, err := r.Deletions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Matured(a) || len(d.PendingSnapshots()) != 2 {
		t.Fatalf("before the delay: matured %v, pending %v", d.Matured(a), d.PendingSnapshots())
	}
	if _, err := r.CancelDeletion(ctx, me, d.Requests[0], []string{b}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.HoldSnapshots(ctx, me, []string{a}, "legal"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	d, err = r.Deletions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Due(b); ok || d.Matured(b) {
		t.Fatal("a cancelled snapshot is still requested")
	}
	if !d.Held(a) || d.Matured(a) {
		t.Fatalf("held snapshot: held %v matured %v", d.Held(a), d.Matured(a))
	}
	if _, err := r.ReleaseHold(ctx, me, d.Holds[0], nil); err != nil {
		t.Fatal(err)
	}
	// b asked again: a new delay from now.
	if _, err := r.RequestDeletion(ctx, me, []string{b}, ""); err != nil {
		t.Fatal(err)
	}
	d, err = r.Deletions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Matured(a) {
		t.Fatal("a released, due snapshot has not matured")
	}
	if due, ok := d.Due(b); !ok || !due.Equal(clock.Now().Add(time.Hour)) || d.Matured(b) {
		t.Fatalf("asked again: due %v %v", due, ok)
	}
	if d.Requests[0].Source != "0123" || d.Requests[0].Host != "web1" || d.Requests[0].Note != "coffer forget a b" {
		t.Fatalf("request lost its author or note: %+v", d.Requests[0])
	}
}

// TestDeletionObjectsAreCoffersOnly: a planted object, a later version
// over a request and a foreign name change nothing; the first version is
// what counts.
func TestDeletionObjectsAreCoffersOnly(t *testing.T) {
	ctx := context.Background()
	r, st, _ := deletionRepo(t)
	me := Author{Source: "0123"}
	req, err := r.RequestDeletion(ctx, me, []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "")
	if err != nil {
		t.Fatal(err)
	}
	st.Overwrite(req.Key, []byte("junk over a request"))
	if _, err := st.Put(ctx, "cancellations/00000000000000000000000000000000", []byte("junk"), r.retention()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "holds/README", []byte("junk"), r.retention()); err != nil {
		t.Fatal(err)
	}
	d, err := r.Deletions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Requests) != 1 || len(d.PendingSnapshots()) != 1 || len(d.Holds) != 0 {
		t.Fatalf("requests %d, pending %v, holds %d", len(d.Requests), d.PendingSnapshots(), len(d.Holds))
	}
	if len(r.Damage()) < 2 {
		t.Fatalf("planted objects not reported as damage: %v", r.Damage())
	}
}

// TestPrunePlanRoundTrip: a plan's packs, indexes and slots come back.
func TestPrunePlanRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, _, clock := deletionRepo(t)
	p := &PrunePlan{Snapshots: []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, Packs: []PackID{{1}, {2}},
		Indexes: []string{"index/0102"}, Slots: []string{"keys/00"}}
	if err := r.PutPrunePlan(ctx, Author{Source: "s"}, p); err != nil {
		t.Fatal(err)
	}
	if p.Key == "" || !p.Uploaded.Equal(clock.Now()) {
		t.Fatalf("plan key %q uploaded %v", p.Key, p.Uploaded)
	}
	got, err := r.PrunePlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Packs) != 2 || got[0].Packs[1] != (PackID{2}) || got[0].Indexes[0] != "index/0102" || got[0].Slots[0] != "keys/00" {
		t.Fatalf("plan read back: %+v", got)
	}
}
