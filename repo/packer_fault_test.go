package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// faultRepo opens a repository with small chunks and packs over a fault
// injecting store, with retries and waits shortened for tests.
func faultRepo(t *testing.T, tune func(*Options)) (*Repository, *faulty.Store) {
	t.Helper()
	ctx := context.Background()
	mem := memory.New(time.Now)
	secret := initTestRepo(t, mem, InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 32 << 10, Max: 64 << 10},
		Now:     time.Now(),
	})
	st := faulty.New(mem)
	o := Options{PackSize: 64 << 10, Uploads: 2, Workers: 2}
	quickRetries(&o)
	if tune != nil {
		tune(&o)
	}
	r, err := Open(ctx, st, secret, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, st
}

// quickRetries shortens the packer's backoff and waits for tests.
func quickRetries(o *Options) {
	o.MaxBackoff = 20 * time.Millisecond
	o.RetryWait = time.Second
	o.HoldWriters = time.Minute
}

var putOps = []faulty.Op{faulty.Put}

// writeAndClose writes data as one file and closes it, without a flush.
func writeAndClose(ctx context.Context, r *Repository, data []byte) ([]BlockRef, error) {
	w := r.NewFileWriter()
	for off := 0; off < len(data); off += 128 << 10 {
		if err := w.WriteAt(ctx, data[off:min(off+128<<10, len(data))], int64(off)); err != nil {
			return nil, err
		}
	}
	return w.Close(ctx)
}

// An outage long enough to fail many packs heals by itself: writers are
// held back, not failed, and once the store is back everything written is
// stored without a restart. Today three failed packs stop all writing
// until a flush that never comes.
func TestOutageHealsWithoutRestart(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	down := st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix})
	go func() {
		for down.Hits() < 6 {
			time.Sleep(time.Millisecond)
		}
		st.Remove(down)
	}()
	data := randBytes(1, 2<<20) // about 32 packs
	refs, err := writeAndClose(ctx, r, data)
	if err != nil {
		t.Fatalf("a writer was failed during a short outage: %v", err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush after the outage: %v", err)
	}
	if got := readAll(t, r, refs); !bytes.Equal(got, data) {
		t.Fatal("data read back differs")
	}
}

// Failed uploads are retried in the background, not only by a flush.
func TestFailedPackRetriedWithoutFlush(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix, Times: 3})
	refs, err := writeAndClose(ctx, r, randBytes(2, 256<<10))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stored := 0
		for _, b := range refs {
			if r.index.has(b.ID) {
				stored++
			}
		}
		// The last pack is still being filled; every full one must land.
		if stored >= len(refs)/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d blocks durable 10 s after the store came back, with no flush", stored, len(refs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A put the store applied but whose answer was lost comes back as
// ErrExists when retried (S3's 412): that is success when the stored
// object is the one sent, for packs, indexes and snapshots alike.
func TestAnswerLostIsSuccess(t *testing.T) {
	for _, prefix := range []string{dataPrefix, indexPrefix, snapshotPrefix} {
		t.Run(prefix, func(t *testing.T) {
			r, st := faultRepo(t, nil)
			ctx := context.Background()
			// The store's own retry of an applied put: ErrExists at once.
			st.Add(faulty.Fault{Ops: putOps, Prefix: prefix, Times: 1, Applied: true,
				Err: fmt.Errorf("412 PreconditionFailed: %w", objectstore.ErrExists)})
			data := randBytes(3, 200<<10)
			refs, err := writeAndClose(ctx, r, data)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Blocks: refs, Size: uint64(len(data))}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: tree}); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			// A lost answer followed by a retry that finds the object.
			st.Add(faulty.Fault{Ops: putOps, Prefix: prefix, Times: 1, Applied: true})
			more := randBytes(4, 100<<10)
			refs2, err := writeAndClose(ctx, r, more)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: tree}); err != nil {
				t.Fatalf("second snapshot: %v", err)
			}
			// Everything is readable from a fresh open of the same store.
			r2, err := Open(ctx, st, Secret{Passphrase: []byte("pw"), KDF: testKDF}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if got := readAll(t, r2, append(refs, refs2...)); !bytes.Equal(got, append(data, more...)) {
				t.Fatal("data read back differs")
			}
			snaps, err := r2.Snapshots(ctx)
			if err != nil || len(snaps) != 2 {
				t.Fatalf("snapshots = %d, %v; want 2", len(snaps), err)
			}
		})
	}
}

// An object that is not the one sent is never taken for it: a pack whose
// name another object holds is stored under a new name.
func TestExistingOtherObjectIsNotSuccess(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix, Times: 2, Err: objectstore.ErrExists})
	data := randBytes(5, 150<<10)
	refs, err := writeAndClose(ctx, r, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := readAll(t, r, refs); !bytes.Equal(got, data) {
		t.Fatal("data read back differs")
	}
}

// While the store is away, fsync (Flush) reports the outage within its
// bound instead of hanging, and the first flush after the store is back
// succeeds with everything written during the outage.
func TestFlushReportsOutageThenHeals(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	down := st.Add(faulty.Fault{Ops: putOps})
	data := randBytes(6, 100<<10)
	refs, err := writeAndClose(ctx, r, data)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = r.Flush(fctx)
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("flush during the outage = %v, want ErrUnavailable", err)
	}
	if fctx.Err() != nil {
		t.Fatal("flush during the outage did not return within its bound")
	}
	st.Remove(down)
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("first flush after the outage: %v", err)
	}
	if got := readAll(t, r, refs); !bytes.Equal(got, data) {
		t.Fatal("data read back differs")
	}
}

// A full store is ENOSPC to the writer at once, and heals once space is
// freed: the next flush stores everything and new files are written.
func TestNoSpaceHeals(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	full := st.Add(faulty.Fault{Ops: putOps, Err: syscall.ENOSPC})
	w := r.NewFileWriter()
	data := randBytes(8, 4<<20)
	var err error
	for off := 0; off < len(data) && err == nil; off += 128 << 10 {
		if err = w.WriteAt(ctx, data[off:off+128<<10], int64(off)); err == nil {
			err = w.Err()
		}
	}
	if err == nil {
		_, err = w.Close(ctx)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writer on a full store: %v, want ENOSPC", err)
	}
	if err := r.Flush(ctx); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("flush on a full store: %v, want ENOSPC", err)
	}
	st.Remove(full)
	// A commit stores its trees first, then flushes.
	if _, err := r.SaveTree(ctx, &Tree{}); err != nil {
		t.Fatalf("tree once space is freed: %v", err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush once space is freed: %v", err)
	}
	more := randBytes(9, 1<<20)
	refs, err := writeAndClose(ctx, r, more)
	if err != nil {
		t.Fatalf("new file once space is freed: %v", err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r, refs); !bytes.Equal(got, more) {
		t.Fatal("data read back differs")
	}
}

// A commit's trees wait for a failing store only as long as a flush
// would (RetryWait), not as long as file data (HoldWriters).
func TestTreesHeldOnlyRetryWait(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix})
	done := make(chan error, 1)
	go func() {
		_, err := writeAndClose(ctx, r, randBytes(11, 2<<20))
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.packer.mu.Lock()
		full := len(r.packer.queue) >= maxQueued && r.packer.failing > 0
		r.packer.mu.Unlock()
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload queue never filled")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "x", Type: TypeFile}}})
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("tree during the outage = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("tree held back %v, want about RetryWait (1 s)", d)
	}
	st.Clear()
	if err := <-done; err != nil {
		t.Fatalf("writer once the store is back: %v", err)
	}
}

// Closing the repository while an upload hangs ends the upload and the
// flush waiting for it, with an error, instead of leaving either stuck.
func TestCloseEndsHungUpload(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	hang := st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix, Block: true})
	if _, err := writeAndClose(ctx, r, randBytes(12, 100<<10)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Flush(ctx) }()
	for hang.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errRepoClosed) {
			t.Fatalf("flush = %v, want errRepoClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flush still waiting 10 s after Close")
	}
}
