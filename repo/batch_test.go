package repo

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// batchRepo stores n small files of 3000 bytes each (one block apiece,
// packed together) in a memory store behind a faulty one, and returns
// the stores, the files' contents and a freshly opened repository whose
// caches hold none of them.
func batchRepo(t *testing.T, n int, o Options) (*faulty.Store, *memory.Store, [][]byte, []BlockWant, *Repository) {
	t.Helper()
	mem, secret := damageRepo(t)
	st := faulty.New(mem)
	w, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	var files [][]byte
	var wants []BlockWant
	for i := range n {
		data := randBytes(uint64(1000+i), 3000)
		fw := w.NewFileWriter()
		if err := fw.WriteAt(context.Background(), data, 0); err != nil {
			t.Fatal(err)
		}
		refs, err := fw.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 {
			t.Fatalf("file %d: %d blocks, want 1", i, len(refs))
		}
		files = append(files, data)
		wants = append(wants, BlockWant{Type: DataBlock, ID: refs[0].ID})
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if o.PackSize == 0 {
		o.PackSize = 256 << 10
	}
	r, err := Open(context.Background(), st, secret, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return st, mem, files, wants, r
}

// ranged counts the ranged reads st has seen.
func ranged(st *faulty.Store) int {
	return st.Calls(faulty.GetRange) + st.Calls(faulty.GetVersionRange)
}

// fetched collects what FetchBlocks hands to fn, safe for its goroutines.
type fetched struct {
	mu    sync.Mutex
	plain map[int][]byte // guarded by mu
	errs  map[int]error  // guarded by mu
	calls int            // guarded by mu
}

func newFetched() *fetched { return &fetched{plain: map[int][]byte{}, errs: map[int]error{}} }

func (f *fetched) fn(i int, plain []byte, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err != nil {
		f.errs[i] = err
	} else {
		f.plain[i] = bytes.Clone(plain)
	}
	return nil
}

// packsOf is how many distinct packs hold the wanted blocks.
func packsOf(r *Repository, wants []BlockWant) int {
	packs := map[PackID]bool{}
	for _, w := range wants {
		loc, _ := r.index.get(w.ID)
		packs[loc.Pack] = true
	}
	return len(packs)
}

// TestFetchBlocksCoalesces: blocks that sit together in packs cost one
// GET per pack, not one per block; each want (a repeated one too) gets
// its verified plaintext, and a cached block costs no GET at all.
func TestFetchBlocksCoalesces(t *testing.T) {
	st, _, files, wants, r := batchRepo(t, 60, Options{})
	ctx := context.Background()
	packs := packsOf(r, wants)
	if packs >= len(wants)/4 {
		t.Fatalf("%d blocks lie in %d packs: the test needs them packed together", len(wants), packs)
	}
	// Want every file, the first one twice, and one already cached.
	if _, err := r.ReadBlock(ctx, DataBlock, wants[5].ID); err != nil {
		t.Fatal(err)
	}
	wants = append(wants, wants[0])
	files = append(files, files[0])
	before := ranged(st)
	got := newFetched()
	if err := r.FetchBlocks(ctx, wants, got.fn); err != nil {
		t.Fatal(err)
	}
	if n := ranged(st) - before; n != packs {
		t.Fatalf("%d ranged GETs for %d blocks in %d packs, want one per pack", n, len(wants), packs)
	}
	if got.calls != len(wants) || len(got.errs) != 0 {
		t.Fatalf("fn called %d times for %d wants, errors %v", got.calls, len(wants), got.errs)
	}
	for i, data := range files {
		if !bytes.Equal(got.plain[i], data) {
			t.Fatalf("want %d: plaintext differs", i)
		}
	}
}

// TestFetchBlocksSpanBound: a budget smaller than two blocks bounds each
// GET to one block; a block larger than the budget is still read.
func TestFetchBlocksSpanBound(t *testing.T) {
	st, _, files, wants, r := batchRepo(t, 30, Options{Fetches: 1, FetchBytes: 2 << 10})
	got := newFetched()
	before := ranged(st)
	if err := r.FetchBlocks(context.Background(), wants, got.fn); err != nil {
		t.Fatal(err)
	}
	if n := ranged(st) - before; n != len(wants) {
		t.Fatalf("%d ranged GETs for %d blocks", n, len(wants))
	}
	for i, data := range files {
		if !bytes.Equal(got.plain[i], data) {
			t.Fatalf("want %d: plaintext differs (%v)", i, got.errs[i])
		}
	}
}

// damageBlock flips a byte inside block id's sealed bytes in its pack,
// as bit rot would: the pack keeps one version, so no first version
// holds the good bytes.
func damageBlock(t *testing.T, mem *memory.Store, r *Repository, id cipher.ID) location {
	t.Helper()
	loc, ok := r.index.get(id)
	if !ok {
		t.Fatalf("block %s not indexed", id)
	}
	data := getObject(t, mem, loc.Pack.key())
	data[loc.Off+loc.Len/2] ^= 0x40
	replace(t, mem, loc.Pack.key(), data)
	return loc
}

// TestFetchBlocksDamageFailsOnlyThatBlock: a damaged block inside a
// coalesced range fails that block alone, as an authentication error,
// reported as a bad location; its neighbours in the same GET are served.
func TestFetchBlocksDamageFailsOnlyThatBlock(t *testing.T) {
	_, mem, files, wants, r := batchRepo(t, 20, Options{})
	victim := 7
	loc := damageBlock(t, mem, r, wants[victim].ID)
	got := newFetched()
	if err := r.FetchBlocks(context.Background(), wants, got.fn); err != nil {
		t.Fatal(err)
	}
	if err := got.errs[victim]; !errors.Is(err, cipher.ErrAuth) || !isDamage(err) {
		t.Fatalf("damaged block: %v, want an authentication error", err)
	}
	if len(got.errs) != 1 {
		t.Fatalf("errors %v, want only the damaged block's", got.errs)
	}
	for i, data := range files {
		if i != victim && !bytes.Equal(got.plain[i], data) {
			t.Fatalf("neighbour %d: plaintext differs", i)
		}
	}
	bad := r.BadLocations()
	if len(bad) != 1 || bad[0].Block != wants[victim].ID || bad[0].Pack != loc.Pack {
		t.Fatalf("bad locations %v, want the damaged block's", bad)
	}
}

// TestFetchBlocksFallsBack: a block whose first location is forged is
// read from its other location; a pack an intruder overwrote is read at
// its first version. Both as ReadBlock reads them.
func TestFetchBlocksFallsBack(t *testing.T) {
	st, mem, files, wants, r := batchRepo(t, 20, Options{})
	// Block 3: a forged copy in a newer index, tried first.
	evil := bytes.Repeat([]byte("x"), len(files[3]))
	forgedPack, idx := forge(t, r, DataBlock, wants[3].ID, evil)
	// Block 12's pack: overwritten by an intruder (every block in it
	// fails at the current version, the first version is good).
	loc12, _ := r.index.get(wants[12].ID)
	mem.Overwrite(loc12.Pack.key(), bytes.Repeat([]byte{0}, 1<<10))

	r2, err := Open(context.Background(), st, Secret{Passphrase: []byte("pw")}, Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.index.demoteAllBut(wants[3].ID, forgedPack)
	got := newFetched()
	if err := r2.FetchBlocks(context.Background(), wants, got.fn); err != nil {
		t.Fatal(err)
	}
	if len(got.errs) != 0 {
		t.Fatalf("errors %v, want every block read from a good location", got.errs)
	}
	for i, data := range files {
		if !bytes.Equal(got.plain[i], data) {
			t.Fatalf("want %d: plaintext differs", i)
		}
	}
	assertReported(t, r2, wants[3].ID, forgedPack, idx)
}

// TestFetchBlocksOutage: a store that fails a ranged GET is an outage,
// not damage: every block of that GET gets the error, nothing is
// reported as a bad location, and the store is not asked block by block.
func TestFetchBlocksOutage(t *testing.T) {
	st, _, _, wants, r := batchRepo(t, 10, Options{})
	if packsOf(r, wants) != 1 {
		t.Fatal("the test needs the blocks in one pack")
	}
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.GetRange, faulty.GetVersionRange}, Prefix: dataPrefix})
	before := ranged(st)
	got := newFetched()
	if err := r.FetchBlocks(context.Background(), wants, got.fn); err != nil {
		t.Fatal(err)
	}
	if len(got.errs) != len(wants) {
		t.Fatalf("%d errors for %d blocks", len(got.errs), len(wants))
	}
	for i, err := range got.errs {
		if !errors.Is(err, objectstore.ErrUnavailable) {
			t.Fatalf("want %d: %v, want the outage", i, err)
		}
	}
	if n := ranged(st) - before; n != 1 {
		t.Fatalf("%d ranged GETs, want 1", n)
	}
	if bad := r.BadLocations(); len(bad) != 0 {
		t.Fatalf("an outage was reported as bad locations: %v", bad)
	}
}

// TestFetchBlocksCancel: a cancelled caller gets its context's error at
// once, while a GET hangs, and fn is not called after FetchBlocks returns;
// an error from fn stops the fetch and is returned.
func TestFetchBlocksCancel(t *testing.T) {
	st, _, _, wants, r := batchRepo(t, 10, Options{})
	rule := st.Add(faulty.Fault{Ops: []faulty.Op{faulty.GetRange, faulty.GetVersionRange}, Prefix: dataPrefix, Block: true})
	defer rule.Release()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	returned, late := false, false
	done := make(chan error, 1)
	go func() {
		done <- r.FetchBlocks(ctx, wants, func(int, []byte, error) error {
			mu.Lock()
			late = late || returned
			mu.Unlock()
			return nil
		})
	}()
	for rule.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("FetchBlocks: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FetchBlocks did not return after its context was cancelled")
	}
	mu.Lock()
	returned = true
	mu.Unlock()
	rule.Release()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if late {
		t.Fatal("fn was called after FetchBlocks returned")
	}

	stop := errors.New("stop")
	calls := 0
	st.Remove(rule)
	err := r.FetchBlocks(context.Background(), wants, func(int, []byte, error) error {
		calls++ // FetchBlocks stops at the first error, so no race
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn failing: FetchBlocks %v after %d calls, want its error after 1", err, calls)
	}
}

// TestFetchBlocksDiskCache: a block the disk cache holds costs no GET,
// and blocks read from the store are not added to it (a bulk read would
// rewrite the whole cache); Preload fills the block cache, so ReadBlock
// then costs no GET either.
func TestFetchBlocksDiskCache(t *testing.T) {
	disk := &mapCache{m: map[string][]byte{}}
	st, _, files, wants, r := batchRepo(t, 6, Options{SealedCache: disk})
	ctx := context.Background()
	if _, err := r.ReadBlock(ctx, DataBlock, wants[0].ID); err != nil {
		t.Fatal(err)
	}
	if len(disk.m) != 1 {
		t.Fatalf("%d blocks on disk after one read, want 1", len(disk.m))
	}
	r2, err := Open(ctx, st, Secret{Passphrase: []byte("pw")}, Options{SealedCache: disk})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	// Only block 0 is on disk: want it alone, then all of them.
	before := ranged(st)
	got := newFetched()
	if err := r2.FetchBlocks(ctx, wants[:1], got.fn); err != nil {
		t.Fatal(err)
	}
	if n := ranged(st) - before; n != 0 || !bytes.Equal(got.plain[0], files[0]) {
		t.Fatalf("block on disk: %d GETs, plaintext right %v", n, bytes.Equal(got.plain[0], files[0]))
	}
	if err := r2.Preload(ctx, wants); err != nil {
		t.Fatal(err)
	}
	if len(disk.m) != 1 {
		t.Fatalf("%d blocks on disk after FetchBlocks, want still 1", len(disk.m))
	}
	before = ranged(st)
	for i, w := range wants {
		b, err := r2.ReadBlock(ctx, DataBlock, w.ID)
		if err != nil || !bytes.Equal(b, files[i]) {
			t.Fatalf("block %d after Preload: %v", i, err)
		}
	}
	if n := ranged(st) - before; n != 0 {
		t.Fatalf("%d GETs reading preloaded blocks, want 0", n)
	}
}

// shortSpans answers a ranged read longer than max one byte short,
// breaking the store contract.
type shortSpans struct {
	objectstore.Store
	max int64
}

func (s shortSpans) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	b, err := s.Store.GetRange(ctx, key, off, length)
	if err == nil && length > s.max {
		b = slices.Clip(b[:len(b)-1])
	}
	return b, err
}

// TestFetchBlocksShortRange: a store that returns less than the range
// asked for costs the coalesced read, not a panic: each block is read
// again alone.
func TestFetchBlocksShortRange(t *testing.T) {
	st, _, files, wants, _ := batchRepo(t, 8, Options{})
	r, err := Open(context.Background(), shortSpans{st, 3100}, Secret{Passphrase: []byte("pw")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := newFetched()
	if err := r.FetchBlocks(context.Background(), wants, got.fn); err != nil {
		t.Fatal(err)
	}
	for i, data := range files {
		if !bytes.Equal(got.plain[i], data) {
			t.Fatalf("want %d: %v", i, got.errs[i])
		}
	}
}
