package storetest

import (
	"errors"
	"testing"
	"time"

	"coffer/objectstore"
)

// testDeleteVersion: DeleteVersion removes exactly the version it names;
// an ID that names nothing (never did, or no longer does) is ErrNotFound.
func (s suite) testDeleteVersion(t *testing.T) {
	st := s.newStore(t)
	data := randomBytes(t, 300)
	id := mustPut(t, st, "dv/gone", data, objectstore.Retention{})
	kept := mustPut(t, st, "dv/kept", []byte("stay"), objectstore.Retention{})
	if err := st.DeleteVersion(ctx(t), "dv/gone", id); err != nil {
		t.Fatalf("DeleteVersion of an unretained version: %v", err)
	}
	if _, err := st.GetVersion(ctx(t), "dv/gone", id); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion after DeleteVersion = %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx(t), "dv/gone"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Get after DeleteVersion of the only version = %v, want ErrNotFound", err)
	}
	if vs := listVersions(t, st, "dv/gone"); len(vs) != 0 {
		t.Fatalf("versions after DeleteVersion of the only one = %+v, want none", vs)
	}
	if err := st.DeleteVersion(ctx(t), "dv/gone", id); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("DeleteVersion of a version already deleted = %v, want ErrNotFound", err)
	}
	// The kept key's ID on another key names nothing there.
	if err := st.DeleteVersion(ctx(t), "dv/never", kept); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("DeleteVersion on a key that never existed = %v, want ErrNotFound", err)
	}
	if err := st.DeleteVersion(ctx(t), "dv/kept", ""); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("DeleteVersion with an empty ID = %v, want ErrNotFound", err)
	}
	if err := st.DeleteVersion(ctx(t), "dv/../x", kept); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("DeleteVersion of an invalid key = %v, want ErrInvalidKey", err)
	}
	mustGet(t, st, "dv/kept", []byte("stay"))
}

// testDeleteVersionRetained: a version under retention is refused and
// stays readable; once its date passes (where the clock can be moved) it
// can be deleted.
func (s suite) testDeleteVersionRetained(t *testing.T) {
	st := s.newStore(t)
	now, err := st.Now(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 200)
	until := now.Add(time.Hour).Truncate(time.Second)
	id := mustPut(t, st, "dvr", data, objectstore.Retention{Mode: objectstore.Compliance, Until: until})
	if err := st.DeleteVersion(ctx(t), "dvr", id); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("DeleteVersion of a retained version = %v, want ErrRetained", err)
	}
	mustGetVersion(t, st, "dvr", id, data)
	mustGet(t, st, "dvr", data)
	if s.opts.Advance == nil {
		return
	}
	s.opts.Advance(2 * time.Hour)
	if err := st.DeleteVersion(ctx(t), "dvr", id); err != nil {
		t.Fatalf("DeleteVersion after the retention passed: %v", err)
	}
	if _, err := st.GetVersion(ctx(t), "dvr", id); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion after DeleteVersion = %v, want ErrNotFound", err)
	}
}

// testDeleteVersionMarkers: prune removes every version of a key, delete
// markers included, each by its ID, and a later version's deletion leaves
// the first one current.
func (s suite) testDeleteVersionMarkers(t *testing.T) {
	st := s.newStore(t)
	in := s.opts.Intruder(t, st)
	data := randomBytes(t, 64)
	id1 := mustPut(t, st, "dvm", data, objectstore.Retention{})
	id2 := in.Overwrite("dvm", []byte("planted"))
	marker := in.Hide("dvm")
	if err := st.DeleteVersion(ctx(t), "dvm", id2); err != nil {
		t.Fatalf("DeleteVersion of a later version: %v", err)
	}
	wantVersions(t, st, "dvm", []string{id1, marker}, []bool{false, true})
	if err := st.DeleteVersion(ctx(t), "dvm", marker); err != nil {
		t.Fatalf("DeleteVersion of a delete marker: %v", err)
	}
	mustGet(t, st, "dvm", data)
	if err := st.DeleteVersion(ctx(t), "dvm", marker); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("DeleteVersion of a marker already deleted = %v, want ErrNotFound", err)
	}
	if err := st.DeleteVersion(ctx(t), "dvm", id1); err != nil {
		t.Fatalf("DeleteVersion of the first version: %v", err)
	}
	if vs := listVersions(t, st, "dvm"); len(vs) != 0 {
		t.Fatalf("versions after deleting every one = %+v, want none", vs)
	}
}

// testLegalHold: on a store with legal holds, a held version is refused
// like a retained one (and stays readable) until the hold is cleared, even
// once its retention has passed; a delete marker takes no hold.
func (s suite) testLegalHold(t *testing.T) {
	st := s.newStore(t)
	lh, ok := st.(objectstore.LegalHolder)
	if !ok {
		t.Fatalf("Options.LegalHolds is set but %T is no objectstore.LegalHolder", st)
	}
	data := randomBytes(t, 80)
	id := mustPut(t, st, "lh/k", data, objectstore.Retention{})
	wantHold(t, lh, "lh/k", id, false)
	setHold(t, lh, "lh/k", id, true)
	if err := st.DeleteVersion(ctx(t), "lh/k", id); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("DeleteVersion of a held version = %v, want ErrRetained", err)
	}
	if err := st.Delete(ctx(t), "lh/k"); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("Delete of a held current version = %v, want ErrRetained", err)
	}
	mustGetVersion(t, st, "lh/k", id, data)
	setHold(t, lh, "lh/k", id, false)
	if err := st.DeleteVersion(ctx(t), "lh/k", id); err != nil {
		t.Fatalf("DeleteVersion after the hold was cleared: %v", err)
	}
	if err := lh.SetLegalHold(ctx(t), "lh/k", id, true); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("SetLegalHold on a deleted version = %v, want ErrNotFound", err)
	}
	if s.opts.Intruder != nil {
		mustPut(t, st, "lh/m", data, objectstore.Retention{})
		marker := s.opts.Intruder(t, st).Hide("lh/m")
		if err := lh.SetLegalHold(ctx(t), "lh/m", marker, true); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("SetLegalHold on a delete marker = %v, want ErrNotFound", err)
		}
	}
	if s.opts.Advance == nil {
		return // on S3, TestLegalHoldOutlivesRetention waits for a lock to lapse
	}
	now, err := st.Now(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	id = mustPut(t, st, "lh/r", data, objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(time.Hour)})
	setHold(t, lh, "lh/r", id, true)
	s.opts.Advance(2 * time.Hour)
	if err := st.DeleteVersion(ctx(t), "lh/r", id); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("DeleteVersion of a held version whose retention passed = %v, want ErrRetained", err)
	}
}

// setHold sets a legal hold and checks it reads back.
func setHold(t *testing.T, lh objectstore.LegalHolder, key, id string, on bool) {
	t.Helper()
	if err := lh.SetLegalHold(ctx(t), key, id, on); err != nil {
		t.Fatalf("SetLegalHold(%s, %v): %v", key, on, err)
	}
	wantHold(t, lh, key, id, on)
}

func wantHold(t *testing.T, lh objectstore.LegalHolder, key, id string, want bool) {
	t.Helper()
	if held, err := lh.LegalHold(ctx(t), key, id); err != nil || held != want {
		t.Fatalf("LegalHold(%s) = %v, %v; want %v", key, held, err, want)
	}
}

// testDeleteProber: a store that can say whether its credentials may
// delete versions says so without leaving anything in the way of the
// repository (its canary lives under doctor/).
func (s suite) testDeleteProber(t *testing.T) {
	st := s.newStore(t)
	p, ok := st.(objectstore.DeleteProber)
	if !ok {
		t.Fatalf("Options.DeleteProber is set but %T is no objectstore.DeleteProber", st)
	}
	can, err := p.CanDeleteVersions(ctx(t))
	if err != nil || !can {
		t.Fatalf("CanDeleteVersions with the suite's credentials = %v, %v; want true", can, err)
	}
	if keys := listKeys(t, st, "", nil); len(keys) != 0 {
		t.Fatalf("CanDeleteVersions left %q behind", keys)
	}
}
