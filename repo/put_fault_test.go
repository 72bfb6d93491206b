package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// Init's writes (key slot, config) take a 412 on an applied attempt for
// success too.
func TestInitAnswerLostIsSuccess(t *testing.T) {
	ctx := context.Background()
	st := faulty.New(memory.New(time.Now))
	lost := fmt.Errorf("412 PreconditionFailed: %w", objectstore.ErrExists)
	slot := st.Add(faulty.Fault{Ops: putOps, Prefix: keysPrefix, Times: 1, Applied: true, Err: lost})
	cfg := st.Add(faulty.Fault{Ops: putOps, Prefix: configKey, Times: 1, Applied: true, Err: lost})
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); err != nil {
		t.Fatalf("init: %v", err)
	}
	if slot.Hits() != 1 || cfg.Hits() != 1 {
		t.Fatalf("lost answers injected: key slot %d, config %d; want 1 each", slot.Hits(), cfg.Hits())
	}
	r, err := Open(ctx, st, secret, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	r.Close()
}

// An index write that fails is retried within the flush; one that keeps
// failing past RetryWait keeps its entries for the next flush.
func TestIndexSaveRetried(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	st.Add(faulty.Fault{Ops: putOps, Prefix: indexPrefix, Times: 2})
	refs, err := writeAndClose(ctx, r, randBytes(13, 100<<10))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush with two failed index writes: %v", err)
	}
	down := st.Add(faulty.Fault{Ops: putOps, Prefix: indexPrefix})
	refs2, err := writeAndClose(ctx, r, randBytes(14, 100<<10))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("flush with index writes failing = %v, want ErrUnavailable", err)
	}
	st.Remove(down)
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush once the store is back: %v", err)
	}
	r2, err := Open(ctx, st, Secret{Passphrase: []byte("pw"), KDF: testKDF}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, b := range append(refs, refs2...) {
		if !r2.index.has(b.ID) {
			t.Fatalf("block %s is in no stored index", b.ID)
		}
	}
}
