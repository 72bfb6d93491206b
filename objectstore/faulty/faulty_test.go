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
	"coffer/objectstore/memory"
	"coffer/objectstore/storetest"
)

// With no rules the decorator is the store it wraps.
func TestConformance(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return faulty.New(memory.New(clock.Now))
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now})
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
