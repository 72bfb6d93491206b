package repo

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// excludeFixture is a repository with 20 days of retention and the
// default 14-day delay over a memory store on an injected clock.
type excludeFixture struct {
	t      *testing.T
	ctx    context.Context
	clock  *simClock
	mem    *memory.Store
	period time.Duration
	logs   bytes.Buffer // every repository's log; slog's handler serializes writes
}

func newExcludeFixture(t *testing.T) *excludeFixture {
	f := &excludeFixture{t: t, ctx: context.Background(), period: 20 * 24 * time.Hour,
		clock: &simClock{now: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)}}
	f.mem = memory.New(f.clock.Now)
	_, err := Init(f.ctx, f.mem, pass("pw"), InitOptions{
		Chunker:   chunker.Params{Min: 1 << 10, Avg: 2 << 10, Max: 8 << 10},
		Retention: PolicyFor(objectstore.Compliance, f.period),
		Now:       f.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *excludeFixture) open() *Repository {
	log := slog.New(slog.NewTextHandler(&f.logs, nil))
	r, err := Open(f.ctx, f.mem, pass("pw"), Options{PackSize: 16 << 10, Clock: f.clock.Now, Logger: log})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(r.Close)
	return r
}

// until is the retain-until date of key's first version.
func (f *excludeFixture) until(key string) time.Time {
	f.t.Helper()
	info, err := f.mem.Head(f.ctx, key)
	if err != nil {
		f.t.Fatalf("%s: %v", key, err)
	}
	return info.RetainUntil
}

// kept reports whether every one of packs is locked for at least R from
// now, as retention promises for what live snapshots need.
func (f *excludeFixture) kept(packs []PackID) bool {
	floor := f.clock.Now().Add(f.period)
	for _, p := range packs {
		if f.until(p.key()).Before(floor) {
			return false
		}
	}
	return true
}

// lapsed reports whether the lock of every one of packs has ended.
func (f *excludeFixture) lapsed(packs []PackID) bool {
	for _, p := range packs {
		if !f.until(p.key()).Before(f.clock.Now()) {
			return false
		}
	}
	return true
}

// TestRetentionLeavesOutRequestedSnapshots: a snapshot with a pending
// request keeps nothing of its own locked: its exclusive pack is no
// longer extended and its lock lapses, while a pack it shares with a
// live snapshot goes on being extended. Once the request is cancelled,
// the next snapshot extends its pack again.
func TestRetentionLeavesOutRequestedSnapshots(t *testing.T) {
	f := newExcludeFixture(t)
	r := f.open()
	shared := writeFile(t, r, randBytes(1, 20<<10))
	mine := writeFile(t, r, randBytes(2, 20<<10))
	sharedPacks, minePacks := packsOfRefs(r, shared), packsOfRefs(r, mine)
	old := snapshotOf(t, r, map[string][]BlockRef{"shared": shared, "mine": mine})
	f.clock.Advance(24 * time.Hour)
	snapshotOf(t, r, map[string][]BlockRef{"shared": shared})
	req, err := r.RequestDeletion(f.ctx, Author{Source: "test"}, []string{old.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	lapsedOn := 0
	for day := 1; day <= 32; day++ {
		f.clock.Advance(24 * time.Hour)
		snapshotOf(t, r, map[string][]BlockRef{"shared": shared})
		if !f.kept(sharedPacks) {
			t.Fatalf("day %d: the shared pack is locked until %s, less than R from now", day, f.until(sharedPacks[0].key()))
		}
		if lapsedOn == 0 && f.lapsed(minePacks) {
			lapsedOn = day
		}
	}
	if lapsedOn == 0 {
		t.Fatalf("the requested snapshot's own pack is still locked until %s after 32 days", f.until(minePacks[0].key()))
	}
	if u := f.until(snapshotPrefix + old.ID); !u.Before(f.clock.Now()) {
		t.Errorf("the requested snapshot's object is still locked until %s", u)
	}
	t.Logf("the requested snapshot's own pack lapsed on day %d after the request", lapsedOn)

	if _, err := r.CancelDeletion(f.ctx, Author{Source: "test"}, req, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	snapshotOf(t, r, map[string][]BlockRef{"shared": shared})
	if !f.kept(minePacks) || !f.kept(sharedPacks) {
		t.Fatalf("after the cancellation, the snapshot's packs are locked until %s and %s; want at least R from now",
			f.until(minePacks[0].key()), f.until(sharedPacks[0].key()))
	}
	if u := f.until(snapshotPrefix + old.ID); u.Before(f.clock.Now().Add(f.period)) {
		t.Errorf("after the cancellation, the snapshot's object is locked until %s only", u)
	}
	if strings.Contains(f.logs.String(), "level=WARN") {
		t.Errorf("warnings logged:\n%s", f.logs.String())
	}
}

// TestRetentionHeldSnapshotStaysKept: a request on a held snapshot
// excludes nothing.
func TestRetentionHeldSnapshotStaysKept(t *testing.T) {
	f := newExcludeFixture(t)
	r := f.open()
	mine := writeFile(t, r, randBytes(3, 20<<10))
	old := snapshotOf(t, r, map[string][]BlockRef{"mine": mine})
	if _, err := r.HoldSnapshots(f.ctx, Author{Source: "test"}, []string{old.ID}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RequestDeletion(f.ctx, Author{Source: "test"}, []string{old.ID}, ""); err != nil {
		t.Fatal(err)
	}
	for range 25 {
		f.clock.Advance(24 * time.Hour)
		snapshotOf(t, r, nil)
		if !f.kept(packsOfRefs(r, mine)) {
			t.Fatalf("a held snapshot's pack is locked until %s only", f.until(packsOfRefs(r, mine)[0].key()))
		}
	}
}

// TestRetentionFollowsRepackedBlocks: after prune repacks a pack
// (MoveBlocks in its own process) and plans to remove it, a running
// daemon's next snapshot extends the new pack and no longer the old one.
func TestRetentionFollowsRepackedBlocks(t *testing.T) {
	f := newExcludeFixture(t)
	daemon := f.open()
	kept := writeFile(t, daemon, randBytes(4, 20<<10))
	snapshotOf(t, daemon, map[string][]BlockRef{"kept": kept})
	oldPacks := packsOfRefs(daemon, kept)
	daemon.DropRelied(daemon.MarkRelied()) // committed with no file open

	prune := f.open()
	var ids []cipher.ID
	for _, b := range kept {
		ids = append(ids, b.ID)
	}
	if _, err := prune.MoveBlocks(f.ctx, ids, oldPacks); err != nil {
		t.Fatal(err)
	}
	newPacks := packsOfRefs(prune, kept)
	for _, p := range newPacks {
		for _, o := range oldPacks {
			if p == o {
				t.Fatal("the repack left a block in an old pack")
			}
		}
	}
	if err := prune.PutPrunePlan(f.ctx, Author{Source: "admin"}, &PrunePlan{Packs: oldPacks}); err != nil {
		t.Fatal(err)
	}
	for day := 1; day <= 32; day++ {
		f.clock.Advance(24 * time.Hour)
		snapshotOf(t, daemon, map[string][]BlockRef{"kept": kept})
		if !f.kept(newPacks) {
			t.Fatalf("day %d: the new pack is locked until %s, less than R from now", day, f.until(newPacks[0].key()))
		}
	}
	if !f.lapsed(oldPacks) {
		t.Fatalf("the old pack is still locked until %s", f.until(oldPacks[0].key()))
	}
}
