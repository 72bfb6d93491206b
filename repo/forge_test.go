package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// intruderPut stores an object as an intruder holding coffer's
// credentials would: a plain new key. It accepts the Store's Put with or
// without the version ID result, so it keeps compiling across that change.
func intruderPut(t *testing.T, st objectstore.Store, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch s := any(st).(type) {
	case interface {
		Put(context.Context, string, []byte, objectstore.Retention) error
	}:
		err = s.Put(ctx, key, data, objectstore.Retention{})
	case interface {
		Put(context.Context, string, []byte, objectstore.Retention) (string, error)
	}:
		_, err = s.Put(ctx, key, data, objectstore.Retention{})
	default:
		t.Fatalf("store %T has no Put this test knows", st)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// forge plays an intruder who holds the key: it seals plain as block id
// of type bt, with the associated data coffer checks, in a new pack with
// a valid trailer, and names it in a new index. It returns the pack and
// the index key.
func forge(t *testing.T, r *Repository, bt BlockType, id cipher.ID, plain []byte) (PackID, string) {
	t.Helper()
	pk := &pack{}
	_, _ = rand.Read(pk.id[:])
	pk.buf = r.keys.Contents().Seal(nil, plain, blockAD(r.id, bt, id))
	pk.entries = []indexEntry{{ID: id, Loc: location{Pack: pk.id, Off: 0, Len: uint32(len(pk.buf)), Type: bt}}}
	intruderPut(t, r.store, pk.id.key(), append(pk.buf, r.packTrailer(pk)...))
	var name [16]byte
	_, _ = rand.Read(name[:])
	key := indexPrefix + hex.EncodeToString(name[:])
	intruderPut(t, r.store, key, r.keys.Metadata().Seal(nil, encodeEntries(pk.entries), objectAD(r.id, "index", key)))
	return pk.id, key
}

// reopen opens the repository in r's store afresh: no cache holds any
// block, and every index is loaded again.
func reopen(t *testing.T, r *Repository, o Options) *Repository {
	t.Helper()
	r2, err := Open(context.Background(), r.store, Secret{Passphrase: []byte("pw")}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r2.Close)
	return r2
}

// oldSnapshot writes a file and a tree naming it, commits them as a
// snapshot, and returns the file's contents, its blocks and the tree's ID.
func oldSnapshot(t *testing.T, r *Repository) ([]byte, []BlockRef, cipher.ID) {
	t.Helper()
	ctx := context.Background()
	data := randBytes(71, 300_000)
	refs := writeFile(t, r, data)
	tree := &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Mode: 0o644, Size: uint64(len(data)), Blocks: refs}}}
	tid, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: FormatID(tid), Files: 1, Size: uint64(len(data))}); err != nil {
		t.Fatal(err)
	}
	return data, refs, tid
}

// TestForgedDataBlockIsNeverServed: an intruder with the key seals other
// bytes as a data block of an old snapshot, in a new pack and a new index.
// The block still reads back as it was stored, and the forged location
// is reported.
func TestForgedDataBlockIsNeverServed(t *testing.T) {
	r := testRepo(t)
	data, refs, _ := oldSnapshot(t, r)
	victim := refs[0]
	evil := bytes.Repeat([]byte("forged"), int(victim.Len)/6+1)[:victim.Len]
	pack, idx := forge(t, r, DataBlock, victim.ID, evil)

	r2 := reopen(t, r, Options{})
	if got := readAll(t, r2, refs); !bytes.Equal(got, data) {
		t.Fatal("the file does not read back byte-identical after a forged index")
	}
	// The real location comes from the older index, so it is tried
	// first and the forged one is never read.
	if bad := r2.BadLocations(); len(bad) != 0 {
		t.Fatalf("the older index's location was not tried first: %v", bad)
	}
	// Read the forged location itself: the real one is tried first, so
	// force the forged one first to see it rejected and reported.
	r3 := reopen(t, r, Options{})
	r3.index.demoteAllBut(victim.ID, pack)
	got, err := r3.ReadBlock(context.Background(), DataBlock, victim.ID)
	if err != nil || !bytes.Equal(got, data[:victim.Len]) {
		t.Fatalf("block read with the forged location first: err %v, identical %v", err, bytes.Equal(got, data[:victim.Len]))
	}
	assertReported(t, r3, victim.ID, pack, idx)
}

// TestForgedTreeBlockIsNeverServed: the same for the root tree of an old
// snapshot, forged to list another file.
func TestForgedTreeBlockIsNeverServed(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data, _, tid := oldSnapshot(t, r)
	other := writeFile(t, r, []byte("the intruder's file"))
	evil, err := json.Marshal(&Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Mode: 0o644, Size: 19, Blocks: other}}})
	if err != nil {
		t.Fatal(err)
	}
	pack, idx := forge(t, r, TreeBlock, tid, evil)

	for _, forgedFirst := range []bool{false, true} {
		r2 := reopen(t, r, Options{})
		if forgedFirst {
			r2.index.demoteAllBut(tid, pack)
		}
		tree, err := r2.LoadTree(ctx, tid)
		if err != nil {
			t.Fatalf("forged first %v: %v", forgedFirst, err)
		}
		if got := readAll(t, r2, tree.Nodes[0].Blocks); !bytes.Equal(got, data) {
			t.Fatalf("forged first %v: the old snapshot's tree was served forged", forgedFirst)
		}
		if forgedFirst {
			assertReported(t, r2, tid, pack, idx)
		}
	}
}

// TestOnlyForgedLocationFails: when the only location of a block is
// forged, reading it is an error (EIO at the file system), never the
// forged bytes, and the forgery is reported.
func TestOnlyForgedLocationFails(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	// The snapshot names a block whose real copy is not stored: only the
	// intruder's copy is.
	real := []byte("the real contents, never stored")
	id := r.keys.BlockID(real)
	pack, idx := forge(t, r, DataBlock, id, []byte("the forged contents, same size"))

	r2 := reopen(t, r, Options{})
	got, err := r2.ReadBlock(ctx, DataBlock, id)
	if err == nil {
		t.Fatalf("read a forged block: got %q, want an error", got)
	}
	if !errors.Is(err, ErrForged) || !isDamage(err) {
		t.Fatalf("read a forged block: %v, want ErrForged, counted as damage", err)
	}
	assertReported(t, r2, id, pack, idx)
	// The error is not cached: it fails again, still reported once.
	if _, err := r2.ReadBlock(ctx, DataBlock, id); !errors.Is(err, ErrForged) {
		t.Fatalf("second read: %v, want ErrForged", err)
	}
	if n := len(r2.BadLocations()); n != 1 {
		t.Fatalf("%d bad locations listed, want 1", n)
	}
}

// assertReported checks that the forged location of id in pack, named by
// index idx, is listed as forged.
func assertReported(t *testing.T, r *Repository, id cipher.ID, pack PackID, idx string) {
	t.Helper()
	for _, b := range r.BadLocations() {
		if b.Block == id && b.Pack == pack {
			if b.Index != idx || !b.Forged {
				t.Fatalf("bad location %+v: want index %s, forged", b, idx)
			}
			return
		}
	}
	t.Fatalf("forged location of %s in pack %s not reported; listed: %+v", id, pack, r.BadLocations())
}

// demoteAllBut moves every location of id outside pack behind the others,
// so the one in pack is tried first.
func (x *index) demoteAllBut(id cipher.ID, pack PackID) {
	for _, l := range x.locations(id) {
		if l.Pack != pack {
			x.demote(id, l)
		}
	}
}

// mapCache is a SealedCache in memory, for tests.
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte // guarded by mu
}

func (c *mapCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[key]
	return bytes.Clone(b), ok
}

func (c *mapCache) Put(key string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = bytes.Clone(data)
	return nil
}

func (c *mapCache) Remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// TestForgedBlockInDiskCacheIsEvicted: the disk cache holds ciphertext,
// which an intruder with the key can forge too. A forged cached block
// fails verification, is evicted and read from the store; a forged
// location read from the store is never cached.
func TestForgedBlockInDiskCacheIsEvicted(t *testing.T) {
	r := testRepo(t)
	ctx := context.Background()
	data, refs, _ := oldSnapshot(t, r)
	victim := refs[0]
	evil := bytes.Repeat([]byte("forged"), int(victim.Len)/6+1)[:victim.Len]
	forgedSealed := r.keys.Contents().Seal(nil, evil, blockAD(r.id, DataBlock, victim.ID))
	cache := &mapCache{m: map[string][]byte{victim.ID.String(): forgedSealed}}

	r2 := reopen(t, r, Options{SealedCache: cache})
	got, err := r2.ReadBlock(ctx, DataBlock, victim.ID)
	if err != nil || !bytes.Equal(got, data[:victim.Len]) {
		t.Fatalf("read over a forged cached block: err %v, identical %v", err, bytes.Equal(got, data[:victim.Len]))
	}
	cached, ok := cache.Get(victim.ID.String())
	if !ok || bytes.Equal(cached, forgedSealed) {
		t.Fatalf("the forged cached block was not replaced (cached %v)", ok)
	}
	if _, err := r2.openVerified(cached, DataBlock, victim.ID); err != nil {
		t.Fatalf("the block cached after the read does not verify: %v", err)
	}

	// Only a forged location in the store: nothing is cached.
	real := []byte("never stored")
	id := r.keys.BlockID(real)
	forge(t, r, DataBlock, id, []byte("forged bytes"))
	r3 := reopen(t, r, Options{SealedCache: cache})
	if _, err := r3.ReadBlock(ctx, DataBlock, id); !errors.Is(err, ErrForged) {
		t.Fatalf("read of a forged-only block: %v, want ErrForged", err)
	}
	if _, ok := cache.Get(id.String()); ok {
		t.Fatal("a forged block read from the store was cached")
	}
}

// TestCheckDuplicatesFindsForgery: the forged copy of a stored block is
// found without reading the file, and the real copy is not reported.
func TestCheckDuplicatesFindsForgery(t *testing.T) {
	r := testRepo(t)
	_, refs, tid := oldSnapshot(t, r)
	pack, idx := forge(t, r, DataBlock, refs[1].ID, make([]byte, refs[1].Len))
	treePack, treeIdx := forge(t, r, TreeBlock, tid, []byte(`{"nodes":[]}`))
	r2 := reopen(t, r, Options{})
	n, err := r2.CheckDuplicates(context.Background())
	if err != nil || n != 4 {
		t.Fatalf("CheckDuplicates read %d locations (%v), want 4", n, err)
	}
	assertReported(t, r2, refs[1].ID, pack, idx)
	assertReported(t, r2, tid, treePack, treeIdx)
	if bad := r2.BadLocations(); len(bad) != 2 {
		t.Fatalf("reported %v, want the two forged locations only", bad)
	}
	clean := testRepo(t)
	oldSnapshot(t, clean)
	if n, err := reopen(t, clean, Options{}).CheckDuplicates(context.Background()); err != nil || n != 0 {
		t.Fatalf("clean repository: CheckDuplicates read %d locations (%v), want none", n, err)
	}
}

// TestRebuildKnowsEveryLocation: a pack that an index names only as a
// block's second location is named all the same, so a rebuild after
// index damage does not read its trailer again.
func TestRebuildKnowsEveryLocation(t *testing.T) {
	r := testRepo(t)
	_, refs, _ := oldSnapshot(t, r)
	forge(t, r, DataBlock, refs[0].ID, make([]byte, refs[0].Len))
	var name [16]byte
	_, _ = rand.Read(name[:])
	intruderPut(t, r.store, indexPrefix+hex.EncodeToString(name[:]), []byte("junk that forces a rebuild"))
	var logs bytes.Buffer
	reopen(t, r, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if !strings.Contains(logs.String(), "every pack is named by a readable index") {
		t.Fatalf("the rebuild read pack trailers although every pack is named:\n%s", logs.String())
	}
}
