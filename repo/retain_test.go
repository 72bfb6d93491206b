package repo

import (
	"context"
	"errors"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// TestRetentionExtendsFirstVersion: an intruder puts a new version over a
// pack that every snapshot reuses; retention must keep extending the
// version coffer wrote, so it can still not be deleted after R.
func TestRetentionExtendsFirstVersion(t *testing.T) {
	ctx := context.Background()
	const period = 4 * 24 * time.Hour
	st, secret, clock := retainedRepo(t, period, smallChunks)
	r, err := Open(ctx, st, secret, Options{PackSize: 16 << 10, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pack, root := snapshotOnePack(t, r, clock, 3)
	var first string
	if err := st.ListVersions(ctx, pack, func(v objectstore.Version) error {
		if first == "" {
			first = v.VersionID
		}
		return nil
	}); err != nil || first == "" {
		t.Fatalf("versions of %s: %q, %v", pack, first, err)
	}
	st.Overwrite(pack, []byte("the intruder's")) // a version with no lock
	for day := 1; day <= 3*4; day++ {
		clock.Advance(24 * time.Hour)
		if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: root}); err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
	}
	if err := st.DeleteVersion(ctx, pack, first); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("deleting coffer's version of a reused pack after 3 R: %v, want ErrRetained", err)
	}
	if s := r.LastRetention(); !s.Until.Equal(clock.Now().Add(period*3/2)) || s.Needed == 0 {
		t.Fatalf("last step: %+v", s)
	}
}

// TestPolicyPeriod: the retention R of a policy, in days or seconds.
func TestPolicyPeriod(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		d    time.Duration
		want Policy
	}{
		{0, Policy{}},
		{30 * day, Policy{Days: 30}},
		{90 * time.Second, Policy{Seconds: 90}},
		{36 * time.Hour, Policy{Seconds: 36 * 3600}},
	} {
		p := PolicyFor("", c.d)
		if p != c.want || p.Period() != c.d {
			t.Errorf("PolicyFor(%v) = %+v (period %v), want %+v", c.d, p, p.Period(), c.want)
		}
	}
	if got := (Policy{Days: 2, Seconds: 5}).Period(); got != 5*time.Second {
		t.Errorf("Seconds must win over Days: %v", got)
	}
}

// TestRetentionGoneVersion: a needed pack whose version is gone (its lock
// lapsed while no snapshot was taken, and someone deleted it) is damage,
// reported, and does not stop later snapshots.
func TestRetentionGoneVersion(t *testing.T) {
	ctx := context.Background()
	st, secret, clock := retainedRepo(t, 24*time.Hour, chunker.Params{})
	r, err := Open(ctx, st, secret, Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pack, root := snapshotOnePack(t, r, clock, 4)
	clock.Advance(3 * 24 * time.Hour)
	var first string
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.ListVersions(ctx, pack, func(v objectstore.Version) error { first = v.VersionID; return nil }))
	must(st.DeleteVersion(ctx, pack, first))
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: root}); err != nil {
		t.Fatalf("a snapshot after a needed pack vanished: %v", err)
	}
	found := false
	for _, d := range r.Damage() {
		found = found || d.Key == pack
	}
	if !found {
		t.Fatalf("the vanished pack is not reported as damage: %v", r.Damage())
	}
}

// TestRetentionAuditRecordsKeepTheirLock: audit records are locked for a
// year (longer than the data), and kept 1.5 of that ahead, not 1.5 R.
func TestRetentionAuditRecordsKeepTheirLock(t *testing.T) {
	ctx := context.Background()
	st, secret, clock := retainedRepo(t, 24*time.Hour, chunker.Params{})
	year := 365 * 24 * time.Hour
	if _, err := st.Put(ctx, auditPrefix+"0000000000000001", []byte("a record"), objectstore.Retention{Until: clock.Now().Add(year)}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: root}); err != nil {
		t.Fatal(err)
	}
	info, err := st.Head(ctx, auditPrefix+"0000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(year * 3 / 2); info.RetainUntil.Before(want) {
		t.Fatalf("audit record locked until %v, want 1.5 years ahead (%v)", info.RetainUntil, want)
	}
}

// TestRetentionCountsFromTheStoresClock: with our clock two days behind
// the store's, objects written after a snapshot are still locked R from
// the store's time, not from ours.
func TestRetentionCountsFromTheStoresClock(t *testing.T) {
	ctx := context.Background()
	server := &simClock{now: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
	ours := func() time.Time { return server.Now().Add(-48 * time.Hour) }
	st := memory.New(server.Now)
	const period = 4 * 24 * time.Hour
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	if _, err := Init(ctx, st, secret, InitOptions{
		Retention: PolicyFor(objectstore.Compliance, period), Now: server.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{Clock: ours})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: ours(), Tree: root}); err != nil {
		t.Fatal(err)
	}
	refs := writeFile(t, r, randBytes(5, 5000))
	loc, _ := r.index.get(refs[0].ID)
	info, err := st.Head(ctx, loc.Pack.key())
	if err != nil {
		t.Fatal(err)
	}
	if want := server.Now().Add(period); info.RetainUntil.Before(want) {
		t.Fatalf("a pack written after a snapshot is locked until %v, want R from the store's time (%v)", info.RetainUntil, want)
	}
}

// smallChunks makes a few KB of file span several blocks.
var smallChunks = chunker.Params{Min: 1 << 10, Avg: 2 << 10, Max: 8 << 10}

// retainedRepo initialises a repository with compliance retention for
// period over a memory store on a simulated clock; cp zero is the default
// chunking.
func retainedRepo(t *testing.T, period time.Duration, cp chunker.Params) (*memory.Store, Secret, *simClock) {
	t.Helper()
	clock := &simClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := memory.New(clock.Now)
	secret := initTestRepo(t, st, InitOptions{
		Chunker:   cp,
		Retention: PolicyFor(objectstore.Compliance, period),
		Now:       clock.Now(),
	})
	return st, secret, clock
}

// snapshotOnePack snapshots a 5000-byte file of random bytes from seed
// and returns the key of the pack holding its first block, and the root.
func snapshotOnePack(t *testing.T, r *Repository, clock *simClock, seed uint64) (string, cipher.ID) {
	t.Helper()
	ctx := context.Background()
	refs := writeFile(t, r, randBytes(seed, 5000))
	root, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Blocks: refs, Size: 5000}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: root}); err != nil {
		t.Fatal(err)
	}
	loc, _ := r.index.get(refs[0].ID)
	return loc.Pack.key(), root
}

// TestRetentionAuditRecordBehindAMarker: audit keys are predictable, so
// an intruder can place a delete marker at the next one before coffer
// writes its record there; the record is still the key's first version
// that is not a marker, and retention keeps it locked.
func TestRetentionAuditRecordBehindAMarker(t *testing.T) {
	ctx := context.Background()
	st, secret, clock := retainedRepo(t, 24*time.Hour, chunker.Params{})
	year := 365 * 24 * time.Hour
	key := auditPrefix + "0000000000000001"
	st.Hide(key)
	if _, err := st.Put(ctx, key, []byte("a record"), objectstore.Retention{Until: clock.Now().Add(year)}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: root}); err != nil {
		t.Fatal(err)
	}
	info, err := st.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(year * 3 / 2); info.RetainUntil.Before(want) {
		t.Fatalf("an audit record behind a delete marker is locked until %v, want 1.5 years ahead (%v)", info.RetainUntil, want)
	}
}
