package audit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
)

// TestIntruderVersionsAreSeenAndIgnored: with coffer's credentials an
// intruder can put new versions over records and hide them behind delete
// markers. Records are read at their first version, so the chain stays
// whole, writers go on, and Verify passes, naming each later version and
// marker as tampering.
func TestIntruderVersionsAreSeenAndIgnored(t *testing.T) {
	ctx := context.Background()
	st := memoryStore()
	l := newTestLog(t, st, "src")
	for _, r := range []Record{{Kind: KindInit}, {Kind: KindMount}, commit("s1"), {Kind: KindUnmount}} {
		mustAppend(t, l, r)
	}
	data, _ := st.Get(ctx, Key(3))
	forged, _ := open(l.cfg.Keys, testRepoID, 3, data)
	forged.Snapshot.ID = "forged"
	sealed, _ := seal(l.cfg.Keys, testRepoID, forged)
	st.Overwrite(Key(3), sealed)         // a forged record over the commit record
	st.Overwrite(Key(4), []byte("junk")) // junk over the tail
	st.Hide(Key(2))                      // the mount record hidden
	st.Hide(Key(5))                      // a marker where the next record goes

	// A fresh writer finds the tail at its first version and goes on.
	r := mustAppend(t, newTestLog(t, st, "next"), Record{Kind: KindMount})
	if r.Seq != 5 || len(r.Skipped) != 0 || r.Prev != link(l.cfg.Keys, mustFirst(t, l, 4)) {
		t.Fatalf("record after the tampering = %+v", r)
	}
	rep, err := newTestLog(t, st, "r").Verify(ctx, []string{"s1"})
	if err != nil {
		t.Fatalf("Verify = %v, want it to pass: the chain coffer wrote is whole", err)
	}
	recs := Records(rep.Entries)
	if len(recs) != 5 || recs[2].Snapshot.ID != "s1" {
		t.Fatalf("records read = %+v, want the five coffer wrote", recs)
	}
	all := strings.Join(rep.Tampered, "\n")
	for _, want := range []string{Key(2) + " has a delete marker", Key(3) + " has a later version", Key(4) + " has a later version", Key(5) + " has a delete marker"} {
		if !strings.Contains(all, want) {
			t.Errorf("tampering not named: %q in\n%s", want, all)
		}
	}
}

func mustFirst(t *testing.T, l *Log, seq uint64) []byte {
	t.Helper()
	data, _, err := l.readFirst(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFirstVersionsAreCoffers(t *testing.T) {
	st := memoryStore()
	l := newTestLog(t, st, "src")
	mustAppend(t, l, Record{Kind: KindInit})
	mustAppend(t, l, Record{Kind: KindMount})
	info, err := st.Head(context.Background(), Key(2))
	if err != nil {
		t.Fatal(err)
	}
	st.Overwrite(Key(2), []byte("junk"))
	st.Hide(Key(1))
	vs, err := l.FirstVersions(context.Background())
	if err != nil || len(vs) != 2 || vs[0].Key != Key(1) || vs[1].Key != Key(2) || vs[1].VersionID != info.VersionID {
		t.Fatalf("FirstVersions = %+v, %v; want records 1 and 2 at coffer's versions (2: %s)", vs, err, info.VersionID)
	}
}

// TestFailingPutsAreRetriedWithTheSameBytes: puts that fail outright are
// retried; the record lands once.
func TestFailingPutsAreRetriedWithTheSameBytes(t *testing.T) {
	st := faulty.New(memoryStore())
	l := newTestLog(t, st, "src")
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Prefix: Prefix, Times: 2})
	if r := mustAppend(t, l, Record{Kind: KindInit}); r.Seq != 1 {
		t.Fatalf("seq %d", r.Seq)
	}
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Prefix: Prefix})
	if _, err := l.Append(context.Background(), Record{Kind: KindMount}); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Append on a store that keeps failing = %v", err)
	}
	st.Clear()
	if r := mustAppend(t, l, Record{Kind: KindMount}); r.Seq != 2 {
		t.Fatalf("seq %d after the store healed", r.Seq)
	}
	mustVerify(t, l)
}

// TestAppendCost: once the tail is known, a record costs the store's
// clock, one put and one version listing of its key (that it is the
// key's first version); learning the tail costs one version listing and one
// read; the repair at a mount reads back only to this server's last
// commit record.
func TestAppendCost(t *testing.T) {
	st := faulty.New(memoryStore())
	for _, r := range []Record{{Kind: KindInit}, commit("s1"), {Kind: KindUnmount}} {
		mustAppend(t, newTestLog(t, st, "src"), r)
	}
	calls := func() map[faulty.Op]int {
		out := map[faulty.Op]int{}
		for _, op := range []faulty.Op{faulty.Put, faulty.Get, faulty.List, faulty.ListVersions, faulty.GetVersion, faulty.Now} {
			out[op] = st.Calls(op)
		}
		return out
	}
	diff := func(before map[faulty.Op]int) map[faulty.Op]int {
		out := map[faulty.Op]int{}
		for op, n := range calls() {
			if n-before[op] != 0 {
				out[op] = n - before[op]
			}
		}
		return out
	}
	l := newTestLog(t, st, "src")
	before := calls()
	mustAppend(t, l, Record{Kind: KindMount})
	if got := diff(before); got[faulty.ListVersions] != 2 || got[faulty.GetVersion] != 1 || got[faulty.Put] != 1 || got[faulty.Now] != 1 || len(got) != 4 {
		t.Errorf("the first append cost %v", got)
	}
	before = calls()
	if n, err := l.Repair(context.Background(), []Commit{{ID: "s1"}}); err != nil || n != 0 {
		t.Fatalf("Repair = %d, %v", n, err)
	}
	if got := diff(before); got[faulty.GetVersion] != 2 || len(got) != 1 {
		t.Errorf("the repair cost %v, want two reads (the unmount and commit records)", got)
	}
	before = calls()
	mustAppend(t, l, commit("s2"))
	if got := diff(before); got[faulty.Put] != 1 || got[faulty.Now] != 1 || got[faulty.ListVersions] != 1 || len(got) != 3 {
		t.Errorf("a commit record cost %v", got)
	}
}

// TestHiddenJunkAtTheNextKey: an intruder plants junk at the next
// sequence key and hides it behind a delete marker, over which a
// conditional put succeeds. The writer sees that its record is not the
// key's first version, steps over the junk as it would over visible junk,
// and Verify passes, naming it.
func TestHiddenJunkAtTheNextKey(t *testing.T) {
	ctx := context.Background()
	st := memoryStore()
	l := newTestLog(t, st, "src")
	mustAppend(t, l, Record{Kind: KindInit})
	if _, err := st.Put(ctx, Key(2), []byte("a trap"), objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	st.Hide(Key(2))
	r := mustAppend(t, l, commit("s1"))
	if r.Seq != 3 || len(r.Skipped) != 1 || r.Skipped[0].Seq != 2 {
		t.Fatalf("record written over a hidden trap = %+v, want seq 3 naming 2 as skipped", r)
	}
	rep, err := newTestLog(t, st, "r").Verify(ctx, []string{"s1"})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if len(Records(rep.Entries)) != 2 || !strings.Contains(strings.Join(rep.Planted, "\n"), Key(2)) {
		t.Fatalf("verify's report: records %+v, planted %q", Records(rep.Entries), rep.Planted)
	}
}
