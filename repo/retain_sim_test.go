package repo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// simClock is the injected clock of a simulation: the store and the
// repository both read it.
type simClock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *simClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// counting counts the store requests made through it.
type counting struct {
	objectstore.Store
	mu sync.Mutex
	n  map[string]int // guarded by mu; requests by method
}

func (c *counting) count(m string) { c.mu.Lock(); c.n[m]++; c.mu.Unlock() }

func (c *counting) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func (c *counting) Put(ctx context.Context, k string, d []byte, r objectstore.Retention) (string, error) {
	c.count("Put")
	return c.Store.Put(ctx, k, d, r)
}
func (c *counting) Get(ctx context.Context, k string) ([]byte, error) {
	c.count("Get")
	return c.Store.Get(ctx, k)
}
func (c *counting) GetRange(ctx context.Context, k string, off, n int64) ([]byte, error) {
	c.count("GetRange")
	return c.Store.GetRange(ctx, k, off, n)
}
func (c *counting) GetVersion(ctx context.Context, k, v string) ([]byte, error) {
	c.count("GetVersion")
	return c.Store.GetVersion(ctx, k, v)
}
func (c *counting) Head(ctx context.Context, k string) (objectstore.Info, error) {
	c.count("Head")
	return c.Store.Head(ctx, k)
}
func (c *counting) List(ctx context.Context, p string, fn func(objectstore.Info) error) error {
	c.count("List")
	return c.Store.List(ctx, p, fn)
}
func (c *counting) ListVersions(ctx context.Context, p string, fn func(objectstore.Version) error) error {
	c.count("ListVersions")
	return c.Store.ListVersions(ctx, p, fn)
}
func (c *counting) ExtendRetentionVersion(ctx context.Context, k, v string, r objectstore.Retention) error {
	c.count("ExtendRetentionVersion")
	return c.Store.ExtendRetentionVersion(ctx, k, v, r)
}
func (c *counting) Now(ctx context.Context) (time.Time, error) {
	c.count("Now")
	return c.Store.Now(ctx)
}

// simTree is the simulated file system: dirs/sub/file → content seed,
// with the tree IDs of directories that have not changed, reused by ID
// without SaveTree as the head does.
type simTree struct {
	files map[string]map[string]uint64 // leaf dir → file name → seed
	refs  map[uint64][]BlockRef        // content seed → its blocks
	ids   map[string]cipher.ID         // clean dir → tree ID
}

func (s *simTree) touch(dir string) {
	delete(s.ids, dir)
	delete(s.ids, dir[:strings.IndexByte(dir, '/')])
}

// churn changes a few files: rewrites, a new file, a removal, and a file
// brought back with contents an old snapshot holds.
func (s *simTree) churn(rng *rand.Rand, day int, dirs []string) {
	for i := range 3 {
		d := dirs[rng.IntN(len(dirs))]
		s.files[d][fmt.Sprintf("f%d", rng.IntN(6))] = uint64(day*100 + i)
		s.touch(d)
	}
	d := dirs[rng.IntN(len(dirs))]
	for name := range s.files[d] {
		delete(s.files[d], name)
		break
	}
	s.touch(d)
	d = dirs[rng.IntN(len(dirs))]
	s.files[d]["old"] = uint64(rng.IntN(day+1) * 100) // dedup against history
	s.touch(d)
}

func (s *simTree) save(t *testing.T, ctx context.Context, r *Repository, top []string) cipher.ID {
	t.Helper()
	tree := func(path string, nodes []Node) cipher.ID {
		if id, ok := s.ids[path]; ok {
			return id
		}
		id, err := r.SaveTree(ctx, &Tree{Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		s.ids[path] = id
		return id
	}
	var rootNodes []Node
	for _, td := range top {
		var subNodes []Node
		for _, sd := range simSubdirs {
			leaf := td + "/" + sd
			var nodes []Node
			for name, seed := range s.files[leaf] {
				refs, ok := s.refs[seed]
				if !ok {
					w := r.NewFileWriter()
					if err := w.WriteAt(ctx, randBytes(seed, 3000+int(seed%5000)), 0); err != nil {
						t.Fatal(err)
					}
					var err error
					if refs, err = w.Close(ctx); err != nil {
						t.Fatal(err)
					}
					s.refs[seed] = refs
				}
				var size uint64
				for _, b := range refs {
					size += uint64(b.Len)
				}
				nodes = append(nodes, Node{Name: name, Type: TypeFile, Blocks: refs, Size: size})
			}
			subNodes = append(subNodes, Node{Name: sd, Type: TypeDir, Subtree: FormatID(tree(leaf, nodes))})
		}
		rootNodes = append(rootNodes, Node{Name: td, Type: TypeDir, Subtree: FormatID(tree(td, subNodes))})
	}
	id, err := r.SaveTree(ctx, &Tree{Nodes: rootNodes})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// neededByBruteForce walks every snapshot in full, apart from the code
// under test, and returns every object they need.
func neededByBruteForce(t *testing.T, ctx context.Context, r *Repository, st objectstore.Store) []string {
	t.Helper()
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	packs := map[PackID]bool{}
	for _, s := range snaps {
		err := r.NewWalker().WalkSnapshot(ctx, s, func(_ context.Context, _ string, id cipher.ID, tr *Tree) error {
			l, _ := r.index.get(id)
			packs[l.Pack] = true
			for _, n := range tr.Nodes {
				for _, b := range n.Blocks {
					l, ok := r.index.get(b.ID)
					if !ok {
						t.Fatalf("block %s of snapshot %s not indexed", b.ID, s.ID)
					}
					packs[l.Pack] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for p := range packs {
		keys = append(keys, p.key())
	}
	err = st.List(ctx, "", func(i objectstore.Info) error {
		switch {
		case strings.HasPrefix(i.Key, indexPrefix):
			entries, err := r.readIndex(ctx, i.Key)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if packs[e.Loc.Pack] {
					keys = append(keys, i.Key)
					break
				}
			}
		case !strings.HasPrefix(i.Key, dataPrefix):
			keys = append(keys, i.Key) // config, keys, snapshots, ledger
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRetentionSimulation runs 100 days of daily snapshots with churn on
// a repository with 10 days of retention, and checks on every day that
// every object a live snapshot needs is locked for at least R from then.
// Halfway a fresh process takes over, which must not walk every tree.
func TestRetentionSimulation(t *testing.T) {
	ctx := context.Background()
	clock := &simClock{now: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)}
	mem := memory.New(clock.Now)
	st := &counting{Store: mem, n: map[string]int{}}
	const period = 10 * 24 * time.Hour
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	_, err := Init(ctx, st, secret, InitOptions{
		Chunker:   chunker.Params{Min: 1 << 10, Avg: 2 << 10, Max: 8 << 10},
		Retention: PolicyFor(objectstore.Compliance, period),
		Now:       clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	open := func() *Repository {
		r, err := Open(ctx, st, secret, Options{PackSize: 16 << 10, Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open()
	defer func() { r.Close() }()
	top := []string{"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"}
	var leaves []string
	sim := &simTree{files: map[string]map[string]uint64{}, refs: map[uint64][]BlockRef{}, ids: map[string]cipher.ID{}}
	for _, td := range top {
		for _, sd := range simSubdirs {
			leaf := td + "/" + sd
			leaves = append(leaves, leaf)
			sim.files[leaf] = map[string]uint64{}
			for i := range 4 {
				sim.files[leaf][fmt.Sprintf("f%d", i)] = uint64(len(leaves)*10 + i + 1)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for day := 1; day <= 100; day++ {
		clock.Advance(24 * time.Hour)
		unchanged := day%10 == 0
		if day == 55 { // a fresh process, on another machine
			r.Close()
			r = open()
			sim.refs = map[uint64][]BlockRef{}
		}
		if !unchanged {
			sim.churn(rng, day, leaves)
		}
		root := sim.save(t, ctx, r, top)
		st.reset()
		if err := r.SaveSnapshot(ctx, &Snapshot{Time: clock.Now(), Tree: FormatID(root)}); err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		reqs := st.reset()
		stats := r.LastRetention()
		if day == 55 && stats.Walked > 15 {
			t.Errorf("day 55, a fresh process: walked %d trees; the ledger should spare all but the changed ones", stats.Walked)
		}
		if day == 55 {
			t.Logf("day 55, a fresh process after churn: %v; retention step: %+v", reqs, stats)
		}
		if unchanged {
			total := 0
			for _, n := range reqs {
				total += n
			}
			t.Logf("day %d, unchanged: %d requests (%v); retention step: %+v", day, total, reqs, stats)
		}
		floor := clock.Now().Add(period)
		for _, k := range neededByBruteForce(t, ctx, r, st) {
			info, err := mem.Head(ctx, k)
			if err != nil {
				t.Fatalf("day %d: %s: %v", day, k, err)
			}
			if info.RetainUntil.Before(floor) {
				t.Fatalf("day %d: %s is locked until %s, less than R from now (%s)", day, k, info.RetainUntil, floor)
			}
		}
	}
}

// simSubdirs are the leaf directories under each top directory.
var simSubdirs = []string{"a", "b", "c", "d", "e", "f"}
