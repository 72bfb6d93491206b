package faulty_test

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/local"
	"coffer/objectstore/memory"
	"coffer/objectstore/storetest"
)

// With no rules the decorator is the store it wraps.
func TestConformance(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return faulty.New(memory.New(clock.Now))
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now, LegalHolds: true, DeleteProber: true})
}

func put(st objectstore.Store, key string) error {
	_, err := st.Put(context.Background(), key, []byte(key), objectstore.Retention{})
	return err
}

func TestNthCall(t *testing.T) {
	st := faulty.New(memory.New(nil))
	r := st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Skip: 2, Times: 1})
	var errs []bool
	for _, k := range []string{"a", "b", "c", "d"} {
		errs = append(errs, put(st, k) != nil)
	}
	if want := []bool{false, false, true, false}; !slices.Equal(errs, want) {
		t.Fatalf("failed calls = %v, want %v", errs, want)
	}
	if r.Hits() != 1 || st.Calls(faulty.Put) != 4 {
		t.Fatalf("hits %d, calls %d", r.Hits(), st.Calls(faulty.Put))
	}
	if _, err := st.Get(context.Background(), "c"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("a failed put stored something: %v", err)
	}
}

func TestPrefixAndDefaultError(t *testing.T) {
	st := faulty.New(memory.New(nil))
	st.Add(faulty.Fault{Prefix: "packs/"})
	err := put(st, "packs/1")
	if !errors.Is(err, faulty.ErrInjected) || !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("put on the prefix: %v", err)
	}
	if err := put(st, "index/1"); err != nil {
		t.Fatalf("put off the prefix: %v", err)
	}
	if _, err := st.Get(context.Background(), "packs/1"); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("a rule with no ops matches every operation: %v", err)
	}
}

func TestAppliedAnswerLost(t *testing.T) {
	st := faulty.New(memory.New(nil))
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Applied: true, Times: 1, Err: syscall.ECONNRESET})
	if err := put(st, "k"); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("put = %v, want the rule's error", err)
	}
	got, err := st.Get(context.Background(), "k")
	if err != nil || string(got) != "k" {
		t.Fatalf("the applied put is not stored: %q, %v", got, err)
	}
	if err := put(st, "k"); !errors.Is(err, objectstore.ErrExists) {
		t.Fatalf("retry = %v, want ErrExists", err)
	}
}

func TestBlockUntilReleased(t *testing.T) {
	st := faulty.New(memory.New(nil))
	r := st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Block: true})
	done := make(chan error, 1)
	go func() { done <- put(st, "k") }()
	deadline := time.Now().Add(5 * time.Second)
	for r.Waiting() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the call was never blocked")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("a blocked call returned: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	r.Release()
	if err := <-done; err != nil {
		t.Fatalf("released call: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r2 := st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Get}, Block: true})
	go func() { _, err := st.Get(ctx, "k"); done <- err }()
	for r2.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled blocked call = %v", err)
	}
}

func TestSwitchAtRuntime(t *testing.T) {
	st := faulty.New(memory.New(nil))
	r := st.Add(faulty.Fault{})
	st.SetEnabled(false)
	if err := put(st, "a"); err != nil {
		t.Fatalf("rules off: %v", err)
	}
	st.SetEnabled(true)
	if err := put(st, "b"); err == nil {
		t.Fatal("rules on: the call went through")
	}
	st.Remove(r)
	if err := put(st, "b"); err != nil {
		t.Fatalf("rule removed: %v", err)
	}
	st.Add(faulty.Fault{})
	st.Clear()
	if err := put(st, "c"); err != nil {
		t.Fatalf("rules cleared: %v", err)
	}
}

// A lost answer to DeleteVersion leaves the version deleted, so a retry
// finds ErrNotFound: what prune must take as done.
func TestDeleteVersionAppliedAnswerLost(t *testing.T) {
	ctx := context.Background()
	st := faulty.New(memory.New(nil))
	vid, err := st.Put(ctx, "packs/p", []byte("p"), objectstore.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.DeleteVersion}, Applied: true, Times: 1})
	if err := st.DeleteVersion(ctx, "packs/p", vid); !faulty.IsInjected(err) {
		t.Fatalf("DeleteVersion = %v, want the injected fault", err)
	}
	if err := st.DeleteVersion(ctx, "packs/p", vid); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("retried DeleteVersion = %v, want ErrNotFound", err)
	}
	if st.Calls(faulty.DeleteVersion) != 2 {
		t.Fatalf("DeleteVersion calls = %d, want 2", st.Calls(faulty.DeleteVersion))
	}
}

// Over a store without legal holds, the pass-through says so.
func TestLegalHoldUnsupported(t *testing.T) {
	dir := t.TempDir()
	inner, err := local.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	st := faulty.New(inner)
	if _, err := st.LegalHold(context.Background(), "k", "1"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("LegalHold over a local store = %v, want ErrUnsupported", err)
	}
	if can, err := st.CanDeleteVersions(context.Background()); err != nil || !can {
		t.Fatalf("CanDeleteVersions over a local store = %v, %v; want true", can, err)
	}
}
