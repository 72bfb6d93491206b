package prune

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"coffer/audit"
	"coffer/objectstore"
	"coffer/repo"
)

// history commits n nightly snapshots of a changing tree (source src1,
// unmounted after each) and returns their IDs, oldest first.
func (w *world) history(n int) []string {
	w.t.Helper()
	files := map[string][]byte{}
	for i := range 6 {
		files[string(rune('a'+i))] = w.randBytes()
	}
	var ids []string
	var base map[string][]byte
	for day := range n {
		last := ""
		if len(ids) > 0 {
			last = ids[len(ids)-1]
		}
		d := w.mount("src1", base, last)
		files = w.change(files, day)
		for _, p := range slices.Sorted(maps.Keys(files)) {
			d.write(p, files[p])
		}
		ids = append(ids, d.commit())
		d.unmount()
		base = files
		w.clock.Advance(24 * time.Hour)
	}
	return ids
}

// storeKeys lists every version in the store, for "nothing changed".
func (w *world) storeKeys() []string {
	w.t.Helper()
	var out []string
	err := w.st.ListVersions(w.ctx, "", func(v objectstore.Version) error {
		out = append(out, v.Key+"@"+v.VersionID)
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// TestRefusedWithoutForceChangesNothing: the newest snapshot of a host,
// and more than --max-remove of all snapshots, are refused without
// --force (ErrRefused) before anything is written; --dry-run shows the
// refusal and writes nothing either.
func TestRefusedWithoutForceChangesNothing(t *testing.T) {
	w := newWorld(t, 0)
	ids := w.history(4)
	w.request(ids[3])
	w.clock.Advance(testDelay)
	before := w.storeKeys()
	_, err := w.tryPrune(Options{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "newest") {
		t.Fatalf("prune of the newest snapshot: %v, want ErrRefused naming it", err)
	}
	rep, err := w.tryPrune(Options{DryRun: true})
	if err != nil || len(rep.Plan.Refused) != 1 {
		t.Fatalf("dry run: %v, refused %v", err, rep.Plan.Refused)
	}
	w.request(ids[0], ids[1], ids[2])
	w.clock.Advance(testDelay)
	before = w.storeKeys() // the request is new
	_, err = w.tryPrune(Options{MaxRemove: 0.5})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "max-remove") {
		t.Fatalf("prune of 4 of 4: %v, want ErrRefused for --max-remove", err)
	}
	if after := w.storeKeys(); !slices.Equal(before, after) {
		t.Fatalf("a refused prune changed the store:\nbefore %v\nafter  %v", before, after)
	}
	rep = w.prune(Options{Force: true})
	if len(rep.Executed) != 1 || len(rep.Executed[0].Removed) != 4 {
		t.Fatalf("forced: %+v", rep.Executed)
	}
	w.verify()
}

// TestRunningMountsBaseIsKeptEvenWithForce: the snapshot an open session
// builds on stays, with the reason, even under --force, and goes once the
// session has committed another and unmounted.
func TestRunningMountsBaseIsKeptEvenWithForce(t *testing.T) {
	w := newWorld(t, 0)
	ids := w.history(3)
	w.request(ids[1], ids[2])
	w.clock.Advance(testDelay)
	d := w.mount("src9", w.want[ids[2]], ids[2])
	d.write("new", w.randBytes())
	rep := w.prune(Options{Force: true}, d)
	ex := rep.Executed[0]
	if !slices.Equal(ex.Removed, []string{ids[1]}) {
		t.Fatalf("removed %v, want only %s", ex.Removed, ids[1])
	}
	kept := rep.Plan.Kept
	if len(kept) != 1 || kept[0].ID != ids[2] || !strings.Contains(kept[0].Why, "base of the running mount on web1") {
		t.Fatalf("kept %+v, want the base with its reason", kept)
	}
	d.commit()
	d.unmount()
	w.verify()
	rep = w.prune(Options{Force: true})
	if len(rep.Executed) != 1 || !slices.Equal(rep.Executed[0].Removed, []string{ids[2]}) {
		t.Fatalf("after the session committed: %+v", rep.Executed)
	}
	w.verify()
}

// TestPacksOfAnOpenSessionAreKept: packs a running mount wrote since its
// last commit are in no snapshot, and no plan touches them; an unmount
// whose final commit failed leaves the session open (the next mount
// resumes its checkpoint); a clean unmount closes it, and what it never
// committed is then a leftover prune removes.
func TestPacksOfAnOpenSessionAreKept(t *testing.T) {
	w := newWorld(t, 0)
	w.history(2)
	d := w.mount("src9", nil, "")
	d.write("pending", w.randBytes())
	w.clock.Advance(time.Hour) // older than the margin: an orphan of no session would go
	rep := w.prune(Options{})
	if len(rep.Plan.Packs) != 0 {
		t.Fatalf("planned packs of a running mount: %+v", rep.Plan.Packs)
	}
	// The session ends without committing, as a crash would: still open.
	if _, err := d.log.Append(w.ctx, auditUnmount(NotCommitted+": the final commit failed")); err != nil {
		t.Fatal(err)
	}
	rep = w.prune(Options{})
	if len(rep.Plan.Packs) != 0 || len(rep.Sessions) != 1 {
		t.Fatalf("after a failed unmount: packs %+v sessions %+v", rep.Plan.Packs, rep.Sessions)
	}
	// A clean unmount closes it: the uncommitted writes are leftovers.
	d.unmount()
	rep = w.prune(Options{})
	if len(rep.Plan.Packs) == 0 || len(rep.Sessions) != 0 {
		t.Fatalf("after a clean unmount: packs %+v sessions %+v", rep.Plan.Packs, rep.Sessions)
	}
	w.verify()
	if r := w.checkReport(); r.UnusedPacks != 0 {
		t.Fatalf("%d unused packs left", r.UnusedPacks)
	}
}

// TestDryRunChangesNothing: a dry run plans, reports the earlier plans it
// would carry out, and writes and deletes nothing.
func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, 0)
	ids := w.history(4)
	w.request(ids[0], ids[1])
	w.clock.Advance(testDelay)
	w.prune(Options{NoWait: true}) // publishes a plan
	w.clock.Advance(testMargin)
	before := w.storeKeys()
	rep := w.prune(Options{DryRun: true})
	if after := w.storeKeys(); !slices.Equal(before, after) {
		t.Fatal("a dry run changed the store")
	}
	if len(rep.Executed) != 1 || len(rep.Executed[0].Removed) != 2 {
		t.Fatalf("dry run would carry out %+v, want the 2 snapshots of the plan", rep.Executed)
	}
	rep = w.prune(Options{})
	if len(rep.Executed) != 1 || len(rep.Executed[0].Removed) != 2 {
		t.Fatalf("the run after: %+v", rep.Executed)
	}
	w.verify()
}

// TestCancelledAfterThePlanIsKept: a cancellation written between the
// plan and its execution keeps the snapshot: execution judges again.
func TestCancelledAfterThePlanIsKept(t *testing.T) {
	w := newWorld(t, 0)
	ids := w.history(3)
	req := w.request(ids[0])
	w.clock.Advance(testDelay)
	w.prune(Options{NoWait: true})
	if _, err := w.open().CancelDeletion(w.ctx, repo.Author{Source: "src1"}, req, nil); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(testMargin)
	rep := w.prune(Options{})
	if len(rep.Executed) != 1 || len(rep.Executed[0].Removed) != 0 || len(rep.Executed[0].Kept) != 1 {
		t.Fatalf("executed %+v, want the cancelled snapshot kept", rep.Executed)
	}
	w.verify()
}

// TestEveryActionIsAnAuditRecord: a prune writes a prune-plan record
// when it publishes and a prune record when it carries the plan out,
// naming the plan, the snapshots and the counts; a dry run writes none.
func TestEveryActionIsAnAuditRecord(t *testing.T) {
	w := newWorld(t, 0)
	ids := w.history(3)
	w.request(ids[0])
	w.clock.Advance(testDelay)
	kinds := func() []audit.Record {
		entries, _, err := w.open().AuditLog("", "", "").Read(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []audit.Record
		for _, r := range audit.Records(entries) {
			if r.Prune != nil {
				out = append(out, r)
			}
		}
		return out
	}
	w.prune(Options{DryRun: true})
	if got := kinds(); len(got) != 0 {
		t.Fatalf("a dry run wrote %d prune records", len(got))
	}
	rep := w.prune(Options{})
	got := kinds()
	if len(got) != 2 || got[0].Kind != audit.KindPrunePlan || got[1].Kind != audit.KindPrune {
		t.Fatalf("records %+v, want prune-plan then prune", got)
	}
	plan, done := got[0].Prune, got[1].Prune
	if plan.Plan != rep.Plan.Key || done.Plan != rep.Plan.Key || !slices.Equal(done.Snapshots, []string{ids[0]}) ||
		done.Packs != rep.Executed[0].Packs || done.Bytes != rep.Executed[0].Bytes || got[1].Source != "admin" {
		t.Fatalf("plan record %+v, prune record %+v (source %q), report %+v", plan, done, got[1].Source, rep.Executed[0])
	}
}

// TestNewestWithinOneSecond: snapshots the store received in the same
// second (S3's resolution) are ordered by their own times, as forget
// orders them: the newest is the last committed, and an earlier one may
// go without --force.
func TestNewestWithinOneSecond(t *testing.T) {
	w := newWorld(t, 0)
	d := w.mount("src1", nil, "")
	var ids []string
	for i := range 3 {
		d.write(fmt.Sprint("f", i), w.randBytes())
		d.ahead = time.Duration(i) * 100 * time.Millisecond // the writer's clock moves, the store's does not
		ids = append(ids, d.commit())
	}
	d.unmount()
	w.request(ids[0], ids[1])
	w.clock.Advance(testDelay)
	rep, err := w.tryPrune(Options{MaxRemove: 0.9})
	if err != nil {
		t.Fatalf("prune of the two older: %v", err)
	}
	if len(rep.Executed) != 1 || len(rep.Executed[0].Removed) != 2 {
		t.Fatalf("executed %+v", rep.Executed)
	}
	w.verify()
}
