package repo

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// memRetainCache is a RetainCache in memory, shared by the processes of
// a test as the state directory is by daemons.
type memRetainCache struct {
	repo    string
	entries map[string]RetainEntry
	saves   int
}

func (c *memRetainCache) Load(repoID string) (map[string]RetainEntry, error) {
	if c.repo != repoID {
		return nil, nil
	}
	return maps.Clone(c.entries), nil
}

func (c *memRetainCache) Save(repoID string, entries map[string]RetainEntry) error {
	c.repo, c.entries = repoID, maps.Clone(entries)
	c.saves++
	return nil
}

// extendLog records the keys whose retention is extended through it.
type extendLog struct {
	objectstore.Store
	mu   sync.Mutex
	keys []string
}

func (s *extendLog) ExtendRetentionVersion(ctx context.Context, k, v string, ret objectstore.Retention) error {
	s.mu.Lock()
	s.keys = append(s.keys, k)
	s.mu.Unlock()
	return s.Store.ExtendRetentionVersion(ctx, k, v, ret)
}

func (s *extendLog) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys
	s.keys = nil
	slices.Sort(k)
	return k
}

// TestRetentionCacheAcrossProcesses: a daemon started again with the
// dates its predecessor saved extends only what is due: the objects put
// after the last step, and everything once half the retention has
// passed. An entry on another version ID is not believed.
func TestRetentionCacheAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	const period = 4 * 24 * time.Hour
	mem, secret, clock := retainedRepo(t, period, smallChunks)
	f := faulty.New(mem)
	log := &extendLog{Store: f}
	cache := &memRetainCache{}
	open := func() *Repository {
		t.Helper()
		r, err := Open(ctx, log, secret, Options{PackSize: 16 << 10, Clock: clock.Now, RetainCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var putAfterStep string // the last snapshot, put after its step
	snapshot := func(r *Repository, root Snapshot) RetentionStats {
		t.Helper()
		root.Time = clock.Now()
		if err := r.SaveSnapshot(ctx, &root); err != nil {
			t.Fatal(err)
		}
		if root.ID == "" {
			t.Fatal("SaveSnapshot left no ID")
		}
		putAfterStep = snapshotPrefix + root.ID
		return r.LastRetention()
	}

	r := open()
	refs := writeFile(t, r, randBytes(7, 40000))
	tree, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Blocks: refs, Size: 40000}}})
	if err != nil {
		t.Fatal(err)
	}
	snapshot(r, Snapshot{Tree: tree})
	last := snapshot(r, Snapshot{Tree: tree})
	r.Close()
	if last.Needed < 10 {
		t.Fatalf("the first process needs %d objects; the test wants more", last.Needed)
	}
	log.take()

	// A restart an hour later: nothing is due but what was put after the
	// last step.
	clock.Advance(time.Hour)
	r = open()
	calls := f.Calls(faulty.ExtendRetentionVersion)
	want := putAfterStep
	s := snapshot(r, Snapshot{Tree: tree})
	if got := log.take(); !slices.Equal(got, []string{want}) {
		t.Fatalf("a restarted daemon extended %d of %d needed objects %q; want only %s",
			len(got), s.Needed, got, want)
	}
	if n := f.Calls(faulty.ExtendRetentionVersion) - calls; n != 1 {
		t.Fatalf("%d ExtendRetentionVersion calls, want 1", n)
	}

	// Past half the retention from the first process's dates, everything
	// is due again, and every needed object stays locked for R.
	clock.Advance(period/2 + time.Hour)
	snapshot(r, Snapshot{Tree: tree})
	if got := log.take(); len(got) < last.Needed {
		t.Fatalf("past half the retention %d objects extended, want at least the %d the first process extended", len(got), last.Needed)
	}
	floor := clock.Now().Add(period)
	for _, k := range neededByBruteForce(t, ctx, r, mem) {
		info, err := mem.Head(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if info.RetainUntil.Before(floor) {
			t.Fatalf("%s locked until %v, want at least %v", k, info.RetainUntil, floor)
		}
	}
	r.Close()

	// A remembered date on a version that is not the key's first is
	// ignored: that key is extended, the others are not.
	var pack string
	for k := range cache.entries {
		if strings.HasPrefix(k, dataPrefix) {
			pack = k
			break
		}
	}
	if pack == "" {
		t.Fatal("no pack in the saved dates")
	}
	e := cache.entries[pack]
	e.Version = "not-" + e.Version
	cache.entries[pack] = e
	clock.Advance(time.Hour)
	r = open()
	defer r.Close()
	want = putAfterStep
	snapshot(r, Snapshot{Tree: tree})
	if got, want := log.take(), []string{pack, want}; !slices.Equal(got, want) {
		t.Fatalf("with a wrong version ID remembered for %s, extended %q; want %q", pack, got, want)
	}
}

// TestRetentionCacheUnusedWithoutRetention: a repository with R = 0
// neither loads nor saves dates.
func TestRetentionCacheUnusedWithoutRetention(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	if _, err := Init(ctx, mem, secret, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	cache := &memRetainCache{}
	r, err := Open(ctx, mem, secret, Options{RetainCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: root}); err != nil {
		t.Fatal(err)
	}
	if cache.saves != 0 {
		t.Fatalf("%d saves of retention dates for a repository without retention", cache.saves)
	}
}
