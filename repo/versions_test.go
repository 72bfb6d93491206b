package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// versionsRepo is a repository over a memory store whose clock the test
// moves, with small packs so a file spans several.
func versionsRepo(t *testing.T) (*memory.Store, Secret, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st, secret := memRepo(t, clock.now)
	return st, secret, clock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fileSnapshot saves a snapshot whose root holds one file of data.
func fileSnapshot(t *testing.T, r *Repository, data []byte) *Snapshot {
	t.Helper()
	ctx := context.Background()
	refs := writeFile(t, r, data)
	tree := &Tree{Nodes: []Node{{Name: "f", Type: "file", Mode: 0o644, Size: uint64(len(data)), Blocks: refs}}}
	id, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Time: time.Now(), Host: "h", Tree: id}
	if err := r.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// snapshotFile reads back the one file of snapshot s.
func snapshotFile(t *testing.T, r *Repository, s *Snapshot) []byte {
	t.Helper()
	tree, err := r.LoadTree(context.Background(), s.Tree)
	if err != nil {
		t.Fatalf("snapshot %s: tree: %v", s.ID, err)
	}
	if len(tree.Nodes) != 1 {
		t.Fatalf("snapshot %s: %d nodes", s.ID, len(tree.Nodes))
	}
	return readAll(t, r, tree.Nodes[0].Blocks)
}

// TestIntruderVersionsAreIgnored: an intruder with coffer's credentials
// puts new versions over the config, the key slots, every index and
// snapshot and some packs, and delete markers on every object. A fresh
// open still lists every snapshot, each reads back byte-identical, and
// every later version and marker is reported.
func TestIntruderVersionsAreIgnored(t *testing.T) {
	st, secret, _ := versionsRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	contents := [][]byte{randBytes(71, 900_000), randBytes(72, 700_000), randBytes(73, 50_000)}
	want := map[string][]byte{}
	for _, c := range contents {
		want[fileSnapshot(t, r, c).ID] = c
	}
	all := keysUnder(t, st, "")
	packs := 0
	for _, key := range all {
		// Every metadata object gets a new version and a delete marker
		// over it; packs get one, the other or both in turn, and a pack
		// left current gets other bytes of the same length (so its
		// blocks fail authentication rather than fall outside it).
		over, hide := []byte(fmt.Sprintf("intruder's %s", key)), true
		if strings.HasPrefix(key, dataPrefix) {
			if packs%3 == 1 {
				over = nil
			}
			if hide = packs%3 != 0; !hide {
				over = randBytes(uint64(packs), len(getObject(t, st, key)))
			}
			packs++
		}
		if over != nil {
			st.Overwrite(key, over)
		}
		if hide {
			st.Hide(key)
		}
	}
	if packs < 3 {
		t.Fatalf("only %d packs: the test needs several", packs)
	}
	if got := keysUnder(t, st, ""); len(got) >= len(all) {
		t.Fatalf("the intruder hid nothing: %d keys listed", len(got))
	}

	r2, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatalf("open after tampering: %v", err)
	}
	snaps, err := r2.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(want) {
		t.Fatalf("%d snapshots listed, want %d", len(snaps), len(want))
	}
	for _, s := range snaps {
		if got := snapshotFile(t, r2, s); !bytes.Equal(got, want[s.ID]) {
			t.Fatalf("snapshot %s reads back other bytes", s.ID)
		}
	}
	if d := r2.Damage(); len(d) != 0 {
		t.Errorf("tampering reported as damage: %v", d)
	}
	kinds := map[string]int{}
	for _, tp := range r2.Tampering() {
		kinds[tp.Kind]++
		if tp.VersionID == "" || tp.Modified.IsZero() {
			t.Errorf("tampering without version or time: %+v", tp)
		}
	}
	if kinds[TamperLaterVersion] == 0 || kinds[TamperDeleteMarker] == 0 {
		t.Fatalf("tampering reported: %v; want later versions and delete markers", kinds)
	}
	// Metadata listings meet all of theirs; packs are met when read.
	for _, prefix := range []string{configKey, keysPrefix, indexPrefix, snapshotPrefix, dataPrefix} {
		if !tamperedUnder(r2, prefix, TamperLaterVersion) || !tamperedUnder(r2, prefix, TamperDeleteMarker) {
			t.Errorf("tampering under %q not reported", prefix)
		}
	}
}

func tamperedUnder(r *Repository, prefix, kind string) bool {
	for _, tp := range r.Tampering() {
		if strings.HasPrefix(tp.Key, prefix) && tp.Kind == kind {
			return true
		}
	}
	return false
}

// TestAsOfHidesLaterSnapshots: a snapshot uploaded after the as-of time,
// by the store's clock, is not listed nor found; earlier ones are, and
// "latest" is the latest at that time.
func TestAsOfHidesLaterSnapshots(t *testing.T) {
	st, secret, clock := versionsRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	first := fileSnapshot(t, r, randBytes(81, 30_000))
	clock.advance(time.Hour)
	between := clock.now()
	clock.advance(time.Hour)
	forged := fileSnapshot(t, r, randBytes(82, 30_000))
	ctx := context.Background()

	r2, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := r2.SnapshotsAsOf(ctx, between)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].ID != first.ID {
		t.Fatalf("as of %v: %d snapshots, want only the first", between, len(snaps))
	}
	latest, err := r2.FindSnapshotAsOf(ctx, "latest", between)
	if err != nil || latest.ID != first.ID {
		t.Fatalf("latest as of %v: %v, %v; want the first", between, latest, err)
	}
	if _, err := r2.FindSnapshotAsOf(ctx, forged.ID, between); err == nil {
		t.Fatal("a snapshot uploaded after the as-of time was found")
	}
	if all, err := r2.Snapshots(ctx); err != nil || len(all) != 2 {
		t.Fatalf("without as-of: %d snapshots, %v; want both", len(all), err)
	}
}

// TestCleanCosts: on an untampered repository, opening and listing
// costs one version listing per metadata prefix and one read per object,
// so one request more than plain listings did (config was one Get; it
// is now a listing and a read), and a block read costs one ranged read,
// as before.
func TestCleanCosts(t *testing.T) {
	st, secret, _ := versionsRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	s1 := fileSnapshot(t, r, randBytes(91, 100_000))
	fileSnapshot(t, r, randBytes(92, 100_000))
	c := &countingStore{Store: st, n: map[string]int{}, lists: map[string]int{}}
	r2, err := openRepo(t, c, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Snapshots(context.Background()); err != nil {
		t.Fatal(err)
	}
	opened := c.total()
	objects := 0
	for prefix, n := range c.listed() {
		if n != 1 || strings.HasPrefix(prefix, dataPrefix) {
			t.Errorf("%q version-listed %d times, want once, and never a pack", prefix, n)
		}
		objects += len(keysUnder(t, st, prefix))
	}
	prefixes := len(c.listed())
	// Plain listings cost one Get of config, and a List of each other
	// prefix, and a Get per object.
	plain := prefixes - 1 + objects
	t.Logf("open and list snapshots: %d requests %v over %d prefixes and %d objects; with plain listings: %d",
		opened, c.counts(), prefixes, objects, plain)
	if opened != plain+1 || c.get("GetVersion") != objects {
		t.Errorf("open and list: %d requests %v, want %d, one read per object", opened, c.counts(), plain+1)
	}
	tree, err := r2.LoadTree(context.Background(), s1.Tree)
	if err != nil {
		t.Fatal(err)
	}
	blocks := tree.Nodes[0].Blocks
	before := c.total()
	readAll(t, r2, blocks)
	if n := c.total() - before; n != len(blocks) || c.get("GetRange") != len(blocks)+1 {
		t.Errorf("reading %d blocks: %d requests %v, want one ranged read each", len(blocks), n, c.counts())
	}
}

// countingStore counts every request by method.
type countingStore struct {
	objectstore.Store
	mu    sync.Mutex
	n     map[string]int // guarded by mu
	lists map[string]int // guarded by mu; version listings by prefix
}

func (c *countingStore) listed() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.lists {
		out[k] = v
	}
	return out
}

func (c *countingStore) add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

func (c *countingStore) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *countingStore) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func (c *countingStore) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *countingStore) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	c.add("Put")
	return c.Store.Put(ctx, key, data, ret)
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.add("Get")
	return c.Store.Get(ctx, key)
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	c.add("GetRange")
	return c.Store.GetRange(ctx, key, off, length)
}

func (c *countingStore) Head(ctx context.Context, key string) (objectstore.Info, error) {
	c.add("Head")
	return c.Store.Head(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	c.add("List")
	return c.Store.List(ctx, prefix, fn)
}

func (c *countingStore) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	c.add("ListVersions")
	c.mu.Lock()
	c.lists[prefix]++
	c.mu.Unlock()
	return c.Store.ListVersions(ctx, prefix, fn)
}

func (c *countingStore) GetVersion(ctx context.Context, key, vid string) ([]byte, error) {
	c.add("GetVersion")
	return c.Store.GetVersion(ctx, key, vid)
}

func (c *countingStore) GetVersionRange(ctx context.Context, key, vid string, off, length int64) ([]byte, error) {
	c.add("GetVersionRange")
	return c.Store.GetVersionRange(ctx, key, vid, off, length)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.add("Delete")
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	c.add("ExtendRetention")
	return c.Store.ExtendRetention(ctx, key, ret)
}

func (c *countingStore) ExtendRetentionVersion(ctx context.Context, key, vid string, ret objectstore.Retention) error {
	c.add("ExtendRetentionVersion")
	return c.Store.ExtendRetentionVersion(ctx, key, vid, ret)
}

func (c *countingStore) Now(ctx context.Context) (time.Time, error) {
	c.add("Now")
	return c.Store.Now(ctx)
}

// TestInitRefusesHiddenRepository: a repository an intruder hid behind
// delete markers is not an empty location: init refuses it, and the
// repository still opens.
func TestInitRefusesHiddenRepository(t *testing.T) {
	st, secret, clock := versionsRepo(t)
	for _, key := range keysUnder(t, st, "") {
		st.Hide(key)
	}
	_, err := Init(context.Background(), st, secret, InitOptions{Now: clock.now()})
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("init over a hidden repository: %v, want ErrNotEmpty", err)
	}
	if _, err := openRepo(t, st, secret); err != nil {
		t.Fatalf("open the hidden repository: %v", err)
	}
}

// TestScanTamperingFindsPacks: reads meet the tampering on what they
// read; a scan finds it on every object, packs included, and on nothing
// of an untampered repository.
func TestScanTamperingFindsPacks(t *testing.T) {
	st, secret, _ := versionsRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	fileSnapshot(t, r, randBytes(95, 300_000))
	ctx := context.Background()
	if found, err := r.ScanTampering(ctx); err != nil || len(found) != 0 {
		t.Fatalf("scan of a clean repository: %v, %v", found, err)
	}
	pack := keysUnder(t, st, dataPrefix)[0]
	vid := st.Hide(pack)
	r2, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r2.Tampering()); n != 0 {
		t.Fatalf("opening met %d tamperings; packs are not listed on open", n)
	}
	found, err := r2.ScanTampering(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Key != pack || found[0].VersionID != vid || found[0].Kind != TamperDeleteMarker {
		t.Fatalf("scan found %+v, want the delete marker %s on %s", found, vid, pack)
	}
}
