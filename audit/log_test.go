package audit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

var testRepoID = []byte("0123456789abcdef")

func testKeys(t testing.TB) *cipher.Keys {
	t.Helper()
	var mk cipher.MasterKey
	for i := range mk {
		mk[i] = byte(i)
	}
	return cipher.DeriveKeys(mk, testRepoID)
}

// fixedClock returns a clock that moves one second per call.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func memoryStore() *memory.Store { return memory.New(fixedClock()) }

func newTestLog(t testing.TB, st objectstore.Store, source string) *Log {
	return New(Config{Store: st, Keys: testKeys(t), RepoID: testRepoID, Source: source, Host: "h",
		Version: "test", Lock: Lock{Period: time.Hour}})
}

func mustAppend(t *testing.T, l *Log, rec Record) Record {
	t.Helper()
	got, err := l.Append(context.Background(), rec)
	if err != nil {
		t.Fatalf("Append %s: %v", rec.Kind, err)
	}
	return got
}

func mustVerify(t *testing.T, l *Log, snaps ...string) Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), snaps)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func commit(id string) Record {
	return Record{Kind: KindCommit, Snapshot: &Commit{ID: id, Files: 1, Bytes: 2}}
}

func TestChainAppendsAndVerifies(t *testing.T) {
	st := memory.New(fixedClock())
	l := newTestLog(t, st, "src-a")
	mustAppend(t, l, Record{Kind: KindInit})
	mustAppend(t, l, Record{Kind: KindMount, Mode: "read-write"})
	c := mustAppend(t, l, commit("s1"))
	mustAppend(t, l, Record{Kind: KindUnmount, Mode: "read-write"})
	if c.Seq != 3 || c.Prev == "" || c.Source != "src-a" || c.Host != "h" {
		t.Fatalf("commit record = %+v", c)
	}
	info, err := st.Head(context.Background(), Key(3))
	if err != nil || info.RetainUntil.IsZero() {
		t.Fatalf("record 3 retention: %+v, %v", info, err)
	}
	rep := mustVerify(t, newTestLog(t, st, "reader"), "s1")
	recs := Records(rep.Entries)
	if len(recs) != 4 || recs[0].Kind != KindInit || recs[3].Kind != KindUnmount || len(rep.Planted) != 0 {
		t.Fatalf("records = %+v, planted %v", recs, rep.Planted)
	}
	// A second process continues the same chain.
	l2 := newTestLog(t, st, "src-b")
	if r := mustAppend(t, l2, Record{Kind: KindMount}); r.Seq != 5 {
		t.Fatalf("second writer's record has seq %d, want 5", r.Seq)
	}
	mustVerify(t, l2, "s1")
}

func TestGenesisNamesSnapshotsAlreadyThere(t *testing.T) {
	st := memory.New(fixedClock())
	l := newTestLog(t, st, "src")
	l.cfg.Snapshots = func(context.Context) ([]string, error) { return []string{"old1", "old2"}, nil }
	r := mustAppend(t, l, Record{Kind: KindMount})
	if r.Seq != 2 {
		t.Fatalf("mount record seq %d, want 2 after the genesis record", r.Seq)
	}
	recs := Records(mustVerify(t, l, "old1", "old2").Entries)
	if recs[0].Kind != KindGenesis || strings.Join(recs[0].Snapshots, ",") != "old1,old2" {
		t.Fatalf("first record = %+v", recs[0])
	}
	if _, err := l.Verify(context.Background(), []string{"old1", "new"}); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "new") {
		t.Fatalf("Verify with an unrecorded snapshot: %v", err)
	}
}

func TestJunkAtNextKeyIsSkippedAndNamed(t *testing.T) {
	ctx := context.Background()
	st := memory.New(fixedClock())
	l := newTestLog(t, st, "src")
	mustAppend(t, l, Record{Kind: KindInit})
	// Planted junk at the next two keys, after l learned the tail.
	for _, seq := range []uint64{2, 3} {
		if _, err := st.Put(ctx, Key(seq), []byte("junk"), objectstore.Retention{}); err != nil {
			t.Fatal(err)
		}
	}
	// A tail junk object is named but breaks nothing.
	rep := mustVerify(t, newTestLog(t, st, "r"))
	if len(rep.Planted) != 2 || !strings.Contains(rep.Planted[0], Key(2)) {
		t.Fatalf("planted = %q", rep.Planted)
	}
	r := mustAppend(t, l, Record{Kind: KindMount})
	if r.Seq != 4 || len(r.Skipped) != 2 || r.Skipped[0].Seq != 2 || r.Skipped[1].Seq != 3 {
		t.Fatalf("record after junk = %+v", r)
	}
	rep = mustVerify(t, newTestLog(t, st, "r"))
	if len(rep.Planted) != 2 || !strings.Contains(rep.Planted[1], "stepped over") {
		t.Fatalf("planted = %q", rep.Planted)
	}
	// A fresh writer that finds junk at the tail when it loads skips it too.
	if _, err := st.Put(ctx, Key(5), []byte("more junk"), objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	if r := mustAppend(t, newTestLog(t, st, "other"), Record{Kind: KindUnmount}); r.Seq != 6 || len(r.Skipped) != 1 {
		t.Fatalf("fresh writer's record = %+v", r)
	}
	mustVerify(t, l)
}

func TestRacingWritersNeverFork(t *testing.T) {
	st := memory.New(fixedClock())
	mustAppend(t, newTestLog(t, st, "init"), Record{Kind: KindInit})
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		l := newTestLog(t, st, "w")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := l.Append(context.Background(), Record{Kind: KindMount}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(Records(mustVerify(t, newTestLog(t, st, "r")).Entries)); n != 1+writers*each {
		t.Fatalf("%d records, want %d", n, 1+writers*each)
	}
}

func TestLostAnswerIsSuccess(t *testing.T) {
	st := faulty.New(memory.New(fixedClock()))
	l := newTestLog(t, st, "src")
	mustAppend(t, l, Record{Kind: KindInit})
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Prefix: Prefix, Times: 1, Applied: true})
	r := mustAppend(t, l, Record{Kind: KindMount})
	if r.Seq != 2 {
		t.Fatalf("record after a lost answer has seq %d, want 2", r.Seq)
	}
	recs := Records(mustVerify(t, l).Entries)
	if len(recs) != 2 || len(recs[1].Skipped) != 0 {
		t.Fatalf("records = %+v", recs)
	}
}

func TestVerifyNamesTheFirstBreak(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T) (*memory.Store, *Log) {
		st := memory.New(fixedClock())
		l := New(Config{Store: st, Keys: testKeys(t), RepoID: testRepoID}) // no lock: records can be removed
		for _, r := range []Record{{Kind: KindInit}, {Kind: KindMount}, commit("s1"), {Kind: KindUnmount}} {
			mustAppend(t, l, r)
		}
		return st, l
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, st *memory.Store, l *Log)
		want   string
	}{
		{"removed", func(t *testing.T, st *memory.Store, l *Log) {
			if err := st.Delete(ctx, Key(2)); err != nil {
				t.Fatal(err)
			}
		}, Key(2) + " is missing"},
		{"removed first", func(t *testing.T, st *memory.Store, l *Log) {
			if err := st.Delete(ctx, Key(1)); err != nil {
				t.Fatal(err)
			}
		}, Key(1) + " is missing"},
		{"replaced by junk", func(t *testing.T, st *memory.Store, l *Log) {
			_ = st.Delete(ctx, Key(2))
			if _, err := st.Put(ctx, Key(2), []byte("junk"), objectstore.Retention{}); err != nil {
				t.Fatal(err)
			}
		}, Key(3) + ": " + Key(2) + " is not a record"},
		{"replaced by another valid record", func(t *testing.T, st *memory.Store, l *Log) {
			data, _ := st.Get(ctx, Key(2))
			rec, _ := open(l.cfg.Keys, testRepoID, 2, data)
			rec.Note = "forged"
			sealed, _ := seal(l.cfg.Keys, testRepoID, rec)
			_ = st.Delete(ctx, Key(2))
			if _, err := st.Put(ctx, Key(2), sealed, objectstore.Retention{}); err != nil {
				t.Fatal(err)
			}
		}, Key(3) + " does not link"},
		{"moved", func(t *testing.T, st *memory.Store, l *Log) {
			data, _ := st.Get(ctx, Key(3))
			_ = st.Delete(ctx, Key(2))
			if _, err := st.Put(ctx, Key(2), data, objectstore.Retention{}); err != nil {
				t.Fatal(err)
			}
		}, Key(3) + ": " + Key(2) + " is not a record"},
		{"commit record removed at the tail", func(t *testing.T, st *memory.Store, l *Log) {
			_ = st.Delete(ctx, Key(4))
			_ = st.Delete(ctx, Key(3))
		}, "snapshot s1 has no commit record"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, l := build(t)
			mustVerify(t, l, "s1")
			c.tamper(t, st, l)
			_, err := newTestLog(t, st, "r").Verify(ctx, []string{"s1"})
			if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify = %v, want a break naming %q", err, c.want)
			}
		})
	}
}

func TestRepairWritesMissingCommitRecords(t *testing.T) {
	st := memory.New(fixedClock())
	l := newTestLog(t, st, "src")
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	snaps := []Commit{{ID: "s1", Time: t0}, {ID: "s2", Time: t0.Add(time.Hour)}, {ID: "s3", Time: t0.Add(2 * time.Hour)}}
	mustAppend(t, l, Record{Kind: KindInit})
	mustAppend(t, l, Record{Kind: KindCommit, Snapshot: &snaps[0]})
	mustAppend(t, l, Record{Kind: KindMount})
	// s2 and s3 were committed, then the daemon crashed before their records.
	if _, err := l.Verify(context.Background(), []string{"s1", "s2", "s3"}); !errors.Is(err, ErrBroken) {
		t.Fatalf("Verify before repair: %v", err)
	}
	// Another server's commit after the crash does not hide them.
	mustAppend(t, newTestLog(t, st, "other-server"), Record{Kind: KindCommit, Snapshot: &Commit{ID: "x1", Time: t0.Add(3 * time.Hour)}})
	n, err := newTestLog(t, st, "src").Repair(context.Background(), snaps)
	if err != nil || n != 2 {
		t.Fatalf("Repair = %d, %v; want 2 records", n, err)
	}
	recs := Records(mustVerify(t, l, "s1", "s2", "s3", "x1").Entries)
	if last := recs[len(recs)-1]; !last.Repaired || last.Snapshot.ID != "s3" {
		t.Fatalf("last record = %+v", last)
	}
	if n, err := newTestLog(t, st, "src").Repair(context.Background(), snaps); err != nil || n != 0 {
		t.Fatalf("second Repair = %d, %v; want nothing to do", n, err)
	}
}

func TestLockFor(t *testing.T) {
	day := 24 * time.Hour
	if l := LockFor(objectstore.Compliance, 0); l.Period != 0 {
		t.Fatalf("no data retention gave %v", l)
	}
	if l := LockFor(objectstore.Governance, 30*day); l.Period != DefaultLockPeriod || l.Mode != objectstore.Governance {
		t.Fatalf("30 days gave %v", l)
	}
	if l := LockFor("", 300*day); l.Period != 600*day {
		t.Fatalf("300 days gave %v", l)
	}
}
