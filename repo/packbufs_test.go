package repo

import (
	"bytes"
	"context"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
)

// slowStore makes every Put take d, like a disk or a link slower than
// sealing: the pipeline in front of it fills.
type slowStore struct {
	objectstore.Store
	d time.Duration
}

func (s slowStore) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	time.Sleep(s.d)
	return s.Store.Put(ctx, key, data, ret)
}

// A long write into a store slower than sealing allocates no more pack
// buffers than the pipeline holds at once (packBuffers): every pack
// reuses one. Issue 10: the free list kept 2 of the 4 or 5 buffers in
// use, so each round dropped some to the garbage collector and made new
// ones, and the daemon's heap grew with the file up to the collector's
// target.
func TestPackBuffersReused(t *testing.T) {
	r, _ := faultRepo(t, nil)
	r.store = slowStore{Store: r.store, d: 2 * time.Millisecond}
	ctx := context.Background()
	data := randBytes(31, 100*r.opts.PackSize) // about 100 packs
	refs, err := writeAndClose(ctx, r, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, limit := r.packBufs.allocated(), packBuffers(r.opts); n > limit {
		t.Errorf("%d pack buffers allocated for about 100 packs, want at most %d (Uploads + maxQueued)", n, limit)
	}
	if got := readAll(t, r, refs); !bytes.Equal(got, data) {
		t.Fatal("data read back differs")
	}
}

// While uploads hang, a writer is held back once packBuffers packs
// exist: one filling is not started beside Uploads uploading and
// maxQueued waiting.
func TestPackBuffersBounded(t *testing.T) {
	r, st := faultRepo(t, nil)
	rule := st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix, Block: true})
	ctx := context.Background()
	data := randBytes(32, 20*r.opts.PackSize)
	done := make(chan error, 1)
	go func() {
		_, err := writeAndClose(ctx, r, data)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for rule.Waiting() < r.opts.Uploads {
		if time.Now().After(deadline) {
			t.Fatal("the uploads never started")
		}
		time.Sleep(time.Millisecond)
	}
	// The writer goes on until it is held back; give it time to.
	time.Sleep(200 * time.Millisecond)
	r.packer.mu.Lock()
	live := r.packer.live
	r.packer.mu.Unlock()
	if limit := packBuffers(r.opts); live > limit || r.packBufs.allocated() > limit {
		t.Errorf("%d packs exist and %d buffers were allocated while uploads hang, want at most %d",
			live, r.packBufs.allocated(), limit)
	}
	rule.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// Once nothing has been packed for a while, the free list gives back the
// buffers a burst needed, keeping one for the next write.
func TestPackBuffersTrimmedWhenIdle(t *testing.T) {
	r := afterBurst(t)
	deadline := time.Now().Add(5 * time.Second)
	for r.packBufs.kept() > idlePackBuffers {
		if time.Now().After(deadline) {
			t.Fatalf("free list still holds %d buffers after being idle, want %d", r.packBufs.kept(), idlePackBuffers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A closed repository arms no timer: the idle trim of its free list does
// not run after Close.
func TestPackBuffersNotTrimmedAfterClose(t *testing.T) {
	r := afterBurst(t)
	r.Close()
	kept := r.packBufs.kept()
	time.Sleep(4 * idleAfterBurst)
	if n := r.packBufs.kept(); n != kept {
		t.Errorf("free list went from %d to %d buffers after Close: the idle trim's timer still ran", kept, n)
	}
}

// idleAfterBurst is the packer's idle time before a trim in afterBurst.
const idleAfterBurst = 50 * time.Millisecond

// afterBurst returns a repository whose packer goes idle after
// idleAfterBurst, once a burst of writing to a slow store has filled its
// free list with several pack buffers and been flushed.
func afterBurst(t *testing.T) *Repository {
	t.Helper()
	r, _ := faultRepo(t, nil)
	r.store = slowStore{Store: r.store, d: 2 * time.Millisecond}
	r.packer.mu.Lock()
	r.packer.idleAfter = idleAfterBurst
	r.packer.mu.Unlock()
	ctx := context.Background()
	if _, err := writeAndClose(ctx, r, randBytes(33, 20*r.opts.PackSize)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r.packBufs.kept(); n < 2 {
		t.Fatalf("free list holds %d buffers after the burst; the test needs a burst that used several", n)
	}
	return r
}
