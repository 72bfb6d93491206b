package repo

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
)

// Writers held back longer than the bound get an error (EIO to the
// process), and a file whose blocks could not be stored says so at close.
func TestHeldWritersFailAfterBound(t *testing.T) {
	r, st := faultRepo(t, func(o *Options) { o.HoldWriters = 300 * time.Millisecond })
	ctx := context.Background()
	st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix})
	w := r.NewFileWriter()
	data := randBytes(7, 2<<20)
	start := time.Now()
	var err error
	for off := 0; off < len(data) && err == nil; off += 128 << 10 {
		err = w.WriteAt(ctx, data[off:off+128<<10], int64(off))
		if err == nil {
			err = w.Err()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		err = w.Err() // what close(2) reports
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("writer error = %v, want ErrUnavailable", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("writer failed after %v, before the bound", time.Since(start))
	}
	st.Clear()
	if _, err := w.Close(ctx); err != nil {
		t.Fatalf("finishing the file once the store is back: %v", err)
	}
}

// A file whose blocks could not be stored (the store was full) is not
// lost once the store heals: its writes were refused from the failure on,
// but everything acknowledged before is stored when the file is finished
// again (as the next commit does), instead of failing every commit.
func TestFailedFileHealsWhenFinishedAgain(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	full := st.Add(faulty.Fault{Ops: putOps, Err: syscall.ENOSPC})
	w := r.NewFileWriter()
	data := randBytes(10, 4<<20)
	acked := 0
	for off := 0; off < len(data); off += 128 << 10 {
		if err := w.WriteAt(ctx, data[off:off+128<<10], int64(off)); err != nil {
			break
		}
		acked = off + 128<<10
	}
	if _, err := w.Close(ctx); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("close on a full store: %v, want ENOSPC", err)
	}
	st.Remove(full)
	refs, err := w.Close(ctx)
	if err != nil {
		t.Fatalf("finishing the file again once space is freed: %v", err)
	}
	if err := w.Err(); err != nil {
		t.Fatalf("the file still reports %v after every block was stored", err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r, refs)
	if len(got) < acked || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("read back %d bytes (acknowledged %d), equal to what was written: %v",
			len(got), acked, bytes.Equal(got, data[:min(len(got), len(data))]))
	}
}
