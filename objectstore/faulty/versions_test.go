package faulty_test

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

// want checks a read's answer: its error, else whether it read w.
func want(data []byte, err error) func(w string) error {
	return func(w string) error {
		if err == nil && string(data) != w {
			err = fmt.Errorf("read %q, want %q", data, w)
		}
		return err
	}
}

// TestVersionOpsFault checks that each version operation passes through
// and can be hit by a rule of its own, and that an applied-but-lost Put
// stores the object without telling its version ID.
func TestVersionOpsFault(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	st := faulty.New(mem)
	id, err := st.Put(ctx, "v/k", []byte("data"), objectstore.Retention{})
	if err != nil || id == "" {
		t.Fatalf("Put = %q, %v", id, err)
	}
	ret := objectstore.Retention{Until: time.Now().Add(time.Hour)}
	calls := map[faulty.Op]func() error{
		faulty.ListVersions: func() error {
			return st.ListVersions(ctx, "v/", func(objectstore.Version) error { return nil })
		},
		faulty.GetVersion:             func() error { return want(st.GetVersion(ctx, "v/k", id))("data") },
		faulty.GetVersionRange:        func() error { return want(st.GetVersionRange(ctx, "v/k", id, 1, 2))("at") },
		faulty.ExtendRetentionVersion: func() error { return st.ExtendRetentionVersion(ctx, "v/k", id, ret) },
		faulty.Now:                    func() error { _, err := st.Now(ctx); return err },
	}
	for op, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s without a rule: %v", op, err)
		}
		r := st.Add(faulty.Fault{Ops: []faulty.Op{op}, Times: 1})
		if err := call(); !faulty.IsInjected(err) {
			t.Fatalf("%s under its rule = %v, want the injected fault", op, err)
		}
		if err := call(); err != nil || r.Hits() != 1 {
			t.Fatalf("%s after its one hit = %v (hits %d)", op, err, r.Hits())
		}
	}
	st.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Applied: true})
	id, err = st.Put(ctx, "v/lost", []byte("x"), objectstore.Retention{})
	if !faulty.IsInjected(err) || id != "" {
		t.Fatalf("applied Put = %q, %v; want no ID and the injected fault", id, err)
	}
	if err := want(mem.Get(ctx, "v/lost"))("x"); err != nil {
		t.Fatalf("the applied Put did not store its data: %v", err)
	}
	if _, err := st.GetVersion(ctx, "v/k", "no-such-version"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion of an unknown ID = %v, want ErrNotFound", err)
	}
}
