package storetest

import (
	"errors"
	"testing"
	"time"

	"coffer/objectstore"
)

func (s suite) testHead(t *testing.T) {
	st := s.newStore(t)
	before := s.opts.Now().Add(-time.Minute)
	data := randomBytes(t, 777)
	mustPut(t, st, "h", data, objectstore.Retention{})
	info, err := st.Head(ctx(t), "h")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "h" || info.Size != 777 {
		t.Fatalf("Head = %+v, want key h, size 777", info)
	}
	if info.Modified.Before(before) {
		t.Fatalf("Head: modified %v is before the Put (%v)", info.Modified, before)
	}
	if !info.RetainUntil.IsZero() {
		t.Fatalf("Head: retain-until %v on an object put without retention", info.RetainUntil)
	}
	if !s.opts.Retention {
		return
	}
	until := s.opts.Now().Add(time.Hour).Truncate(time.Second)
	mustPut(t, st, "hr", data, objectstore.Retention{Mode: objectstore.Governance, Until: until})
	info, err = st.Head(ctx(t), "hr")
	if err != nil {
		t.Fatal(err)
	}
	if !info.RetainUntil.Equal(until) || info.Mode != objectstore.Governance {
		t.Fatalf("Head: retention %s until %v, want GOVERNANCE until %v", info.Mode, info.RetainUntil, until)
	}
}

func (s suite) testDelete(t *testing.T) {
	st := s.newStore(t)
	mustPut(t, st, "d/gone", []byte("bye"), objectstore.Retention{})
	mustPut(t, st, "d/kept", []byte("stay"), objectstore.Retention{})
	if err := st.Delete(ctx(t), "d/gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Get(ctx(t), "d/gone"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := st.Head(ctx(t), "d/gone"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Head after Delete = %v, want ErrNotFound", err)
	}
	if got := listKeys(t, st, "d/", nil); len(got) != 1 || got[0] != "d/kept" {
		t.Fatalf("List after Delete = %q, want [d/kept]", got)
	}
	if err := st.Delete(ctx(t), "d/gone"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	mustGet(t, st, "d/kept", []byte("stay"))
}

// assertRetained checks that Delete is refused and the bytes survive.
func assertRetained(t *testing.T, st objectstore.Store, key string, data []byte) {
	t.Helper()
	if err := st.Delete(ctx(t), key); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("Delete of retained %s = %v, want ErrRetained", key, err)
	}
	mustGet(t, st, key, data)
}

func (s suite) testRetentionRefusesDelete(t *testing.T) {
	st := s.newStore(t)
	data := randomBytes(t, 100)
	ret := objectstore.Retention{Mode: objectstore.Compliance, Until: s.opts.Now().Add(time.Hour)}
	mustPut(t, st, "locked", data, ret)
	assertRetained(t, st, "locked", data)
	if _, err := st.Put(ctx(t), "locked", []byte("replacement"), objectstore.Retention{}); !errors.Is(err, objectstore.ErrExists) {
		t.Fatalf("Put over a retained object = %v, want ErrExists", err)
	}
	mustGet(t, st, "locked", data)
	if s.opts.Advance == nil {
		return
	}
	s.opts.Advance(2 * time.Hour)
	if err := st.Delete(ctx(t), "locked"); err != nil {
		t.Fatalf("Delete after retention passed: %v", err)
	}
	if _, err := st.Get(ctx(t), "locked"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func (s suite) testExtendRetention(t *testing.T) {
	st := s.newStore(t)
	data := randomBytes(t, 100)
	now := s.opts.Now().Truncate(time.Second)
	mustPut(t, st, "x", data, objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(time.Hour)})
	mustPut(t, st, "plain", data, objectstore.Retention{})
	steps := []struct {
		to, want time.Duration
	}{
		{2 * time.Hour, 2 * time.Hour},    // extends
		{30 * time.Minute, 2 * time.Hour}, // never shortens
		{2 * time.Hour, 2 * time.Hour},    // same date: no-op
		{3 * time.Hour, 3 * time.Hour},    // extends again
		{90 * time.Minute, 3 * time.Hour}, // still never shortens
	}
	for _, step := range steps {
		ret := objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(step.to)}
		if err := st.ExtendRetention(ctx(t), "x", ret); err != nil {
			t.Fatalf("ExtendRetention(+%v): %v", step.to, err)
		}
		info, err := st.Head(ctx(t), "x")
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(step.want); !info.RetainUntil.Equal(want) || info.Mode != objectstore.Compliance {
			t.Fatalf("after ExtendRetention(+%v): %s until %v, want COMPLIANCE until %v",
				step.to, info.Mode, info.RetainUntil, want)
		}
	}
	// An object put without retention gains it.
	if err := st.ExtendRetention(ctx(t), "plain", objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(time.Hour)}); err != nil {
		t.Fatalf("ExtendRetention on an unretained object: %v", err)
	}
	assertRetained(t, st, "plain", data)
	if s.opts.Advance == nil {
		assertRetained(t, st, "x", data)
		return
	}
	s.opts.Advance(150 * time.Minute) // past the first dates, before the final one
	assertRetained(t, st, "x", data)
	s.opts.Advance(time.Hour)
	if err := st.Delete(ctx(t), "x"); err != nil {
		t.Fatalf("Delete after the extended retention passed: %v", err)
	}
}
