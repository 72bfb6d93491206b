package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"coffer/objectstore"
)

// listVersions returns what ListVersions reports for prefix, in its order.
func listVersions(t *testing.T, st objectstore.Store, prefix string) []objectstore.Version {
	t.Helper()
	var out []objectstore.Version
	err := st.ListVersions(ctx(t), prefix, func(v objectstore.Version) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		t.Fatalf("ListVersions(%q): %v", prefix, err)
	}
	return out
}

// describe renders versions for failure messages.
func describe(vs []objectstore.Version) string {
	var b bytes.Buffer
	for _, v := range vs {
		fmt.Fprintf(&b, "[%s %s size %d marker %v] ", v.Key, v.VersionID, v.Size, v.DeleteMarker)
	}
	return b.String()
}

// wantVersions checks that key's listed versions have exactly these IDs,
// oldest first, with markers where marked says.
func wantVersions(t *testing.T, st objectstore.Store, key string, ids []string, marked []bool) []objectstore.Version {
	t.Helper()
	var got []objectstore.Version
	for _, v := range listVersions(t, st, key) {
		if v.Key == key {
			got = append(got, v)
		}
	}
	ok := len(got) == len(ids)
	for i := 0; ok && i < len(ids); i++ {
		ok = got[i].VersionID == ids[i] && got[i].DeleteMarker == marked[i]
	}
	if !ok {
		t.Fatalf("ListVersions(%q) = %s, want IDs %q (markers %v), oldest first", key, describe(got), ids, marked)
	}
	return got
}

func mustGetVersion(t *testing.T, st objectstore.Store, key, id string, want []byte) {
	t.Helper()
	got, err := st.GetVersion(ctx(t), key, id)
	if err != nil {
		t.Fatalf("GetVersion(%q, %q): %v", key, id, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GetVersion(%q, %q) = %d bytes, differs from the %d put", key, id, len(got), len(want))
	}
}

func (s suite) testNow(t *testing.T) {
	st := s.newStore(t)
	now, err := st.Now(ctx(t))
	if err != nil {
		t.Fatalf("Now: %v", err)
	}
	if d := now.Sub(s.opts.Now()); d < -time.Minute || d > time.Minute {
		t.Fatalf("Now = %v, %v away from the backend's clock %v", now, d, s.opts.Now())
	}
}

func (s suite) testVersions(t *testing.T) {
	st := s.newStore(t)
	before := s.opts.Now().Add(-time.Minute)
	data := randomBytes(t, 300)
	id := mustPut(t, st, "v/a", data, objectstore.Retention{})
	info, err := st.Head(ctx(t), "v/a")
	if err != nil || info.VersionID != id {
		t.Fatalf("Head = %+v, %v; want version %q, the one Put returned", info, err, id)
	}
	vs := wantVersions(t, st, "v/a", []string{id}, []bool{false})
	if vs[0].Size != 300 || vs[0].Modified.Before(before) {
		t.Fatalf("listed version %+v: want size 300, modified after %v", vs[0], before)
	}
	mustGetVersion(t, st, "v/a", id, data)
	part, err := st.GetVersionRange(ctx(t), "v/a", id, 100, 50)
	if err != nil || !bytes.Equal(part, data[100:150]) {
		t.Fatalf("GetVersionRange(100, 50) = %d bytes, %v", len(part), err)
	}
	if _, err := st.GetVersionRange(ctx(t), "v/a", id, 290, 20); !errors.Is(err, objectstore.ErrInvalidRange) {
		t.Fatalf("GetVersionRange past the end = %v, want ErrInvalidRange", err)
	}
	if part, err := st.GetVersionRange(ctx(t), "v/a", id, 300, 0); err != nil || len(part) != 0 {
		t.Fatalf("GetVersionRange of 0 bytes at the end = %d bytes, %v; want 0 bytes", len(part), err)
	}
	// A version that was deleted is gone by its ID too.
	gone := mustPut(t, st, "v/gone", []byte("bye"), objectstore.Retention{})
	if err := st.Delete(ctx(t), "v/gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetVersion(ctx(t), "v/gone", gone); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion of a deleted version = %v, want ErrNotFound", err)
	}
	if got := listVersions(t, st, "v/gone"); len(got) != 0 {
		t.Fatalf("ListVersions of a deleted key = %s, want nothing", describe(got))
	}
	if _, err := st.GetVersion(ctx(t), "bad//key", id); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("GetVersion of an invalid key = %v, want ErrInvalidKey", err)
	}
	if err := st.ListVersions(ctx(t), "/bad", func(objectstore.Version) error { return nil }); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("ListVersions of an invalid prefix = %v, want ErrInvalidKey", err)
	}
}

func (s suite) testVersionsPrefix(t *testing.T) {
	st := s.newStore(t)
	keys := []string{"p/2", "p/1", "p-x", "p/sub/y", "q"}
	for _, k := range keys {
		mustPut(t, st, k, []byte(k), objectstore.Retention{})
	}
	var got []string
	for _, v := range listVersions(t, st, "p") {
		got = append(got, v.Key)
	}
	if want := []string{"p-x", "p/1", "p/2", "p/sub/y"}; !slices.Equal(got, want) {
		t.Fatalf("ListVersions(p) keys = %q, want %q", got, want)
	}
	stop := errors.New("enough")
	calls := 0
	err := st.ListVersions(ctx(t), "", func(objectstore.Version) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("ListVersions stopped by its callback = %v after %d calls", err, calls)
	}
}

// testLaterVersions: what an intruder puts over a key becomes its current
// version; the first stays readable by its ID and listed first.
func (s suite) testLaterVersions(t *testing.T) {
	st := s.newStore(t)
	in := s.opts.Intruder(t, st)
	first := randomBytes(t, 200)
	id1 := mustPut(t, st, "k", first, objectstore.Retention{})
	mustPut(t, st, "k0", []byte("a key after k"), objectstore.Retention{})
	forged := []byte("the intruder's bytes")
	id2 := in.Overwrite("k", forged)
	id3 := in.Overwrite("k", []byte("and more"))
	mustGet(t, st, "k", []byte("and more"))
	wantVersions(t, st, "k", []string{id1, id2, id3}, []bool{false, false, false})
	mustGetVersion(t, st, "k", id1, first)
	mustGetVersion(t, st, "k", id2, forged)
	part, err := st.GetVersionRange(ctx(t), "k", id1, 10, 20)
	if err != nil || !bytes.Equal(part, first[10:30]) {
		t.Fatalf("GetVersionRange of the first version = %d bytes, %v", len(part), err)
	}
	if _, err := st.Put(ctx(t), "k", first, objectstore.Retention{}); !errors.Is(err, objectstore.ErrExists) {
		t.Fatalf("Put over a key with versions = %v, want ErrExists", err)
	}
	// Delete removes the current version; the one before becomes current.
	if err := st.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustGet(t, st, "k", forged)
	wantVersions(t, st, "k", []string{id1, id2}, []bool{false, false})
}

// testDeleteMarkers: a hidden key is absent for Get, Head and List, but
// its versions are listed, marker included, and readable by ID.
func (s suite) testDeleteMarkers(t *testing.T) {
	st := s.newStore(t)
	in := s.opts.Intruder(t, st)
	data := randomBytes(t, 64)
	id1 := mustPut(t, st, "m/k", data, objectstore.Retention{})
	mustPut(t, st, "m/other", []byte("o"), objectstore.Retention{})
	marker := in.Hide("m/k")
	if _, err := st.Get(ctx(t), "m/k"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Get of a hidden key = %v, want ErrNotFound", err)
	}
	if _, err := st.Head(ctx(t), "m/k"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Head of a hidden key = %v, want ErrNotFound", err)
	}
	if got := listKeys(t, st, "m/", nil); !slices.Equal(got, []string{"m/other"}) {
		t.Fatalf("List with a hidden key = %q, want [m/other]", got)
	}
	vs := wantVersions(t, st, "m/k", []string{id1, marker}, []bool{false, true})
	if vs[1].Size != 0 {
		t.Fatalf("delete marker listed with size %d", vs[1].Size)
	}
	mustGetVersion(t, st, "m/k", id1, data)
	if _, err := st.GetVersion(ctx(t), "m/k", marker); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion of a delete marker = %v, want ErrNotFound", err)
	}
	// Deleting the marker brings the key back.
	if err := in.DeleteVersion(ctx(t), "m/k", marker); err != nil {
		t.Fatalf("delete the marker: %v", err)
	}
	mustGet(t, st, "m/k", data)
	wantVersions(t, st, "m/k", []string{id1}, []bool{false})
}

// testRetentionPerVersion: each version has its own retention;
// ExtendRetentionVersion changes only the one it names, ExtendRetention
// the key's first, and neither ever shortens.
func (s suite) testRetentionPerVersion(t *testing.T) {
	st := s.newStore(t)
	in := s.opts.Intruder(t, st)
	now, err := st.Now(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(time.Hour).Truncate(time.Second)
	data := randomBytes(t, 100)
	id1 := mustPut(t, st, "r", data, objectstore.Retention{Mode: objectstore.Compliance, Until: until})
	id2 := in.Overwrite("r", []byte("over the locked version"))
	// The key's first version is extended, not the current one.
	if err := st.ExtendRetention(ctx(t), "r", objectstore.Retention{Mode: objectstore.Compliance, Until: until.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("ExtendRetention: %v", err)
	}
	if err := st.ExtendRetentionVersion(ctx(t), "r", id1, objectstore.Retention{Mode: objectstore.Compliance, Until: until.Add(time.Hour)}); err != nil {
		t.Fatalf("ExtendRetentionVersion to an earlier date: %v", err)
	}
	if err := in.DeleteVersion(ctx(t), "r", id2); err != nil {
		t.Fatalf("delete the unretained later version: %v", err)
	}
	info, err := st.Head(ctx(t), "r")
	if err != nil || info.VersionID != id1 || !info.RetainUntil.Equal(until.Add(2*time.Hour)) || info.Mode != objectstore.Compliance {
		t.Fatalf("Head of the first version = %+v, %v; want %s under COMPLIANCE until %v", info, err, id1, until.Add(2*time.Hour))
	}
	if err := in.DeleteVersion(ctx(t), "r", id1); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("delete the retained first version = %v, want ErrRetained", err)
	}
	// A later version gains retention of its own by its ID.
	id3 := in.Overwrite("r", []byte("locked by ID"))
	if err := st.ExtendRetentionVersion(ctx(t), "r", id3, objectstore.Retention{Mode: objectstore.Compliance, Until: until}); err != nil {
		t.Fatalf("ExtendRetentionVersion of a later version: %v", err)
	}
	if err := in.DeleteVersion(ctx(t), "r", id3); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("delete a version retained by its ID = %v, want ErrRetained", err)
	}
	mustGetVersion(t, st, "r", id1, data)
	if s.opts.Advance == nil {
		return
	}
	s.opts.Advance(90 * time.Minute) // past id3's date, not id1's
	if err := in.DeleteVersion(ctx(t), "r", id3); err != nil {
		t.Fatalf("delete a version whose retention passed: %v", err)
	}
	if err := in.DeleteVersion(ctx(t), "r", id1); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("delete the first version before its extended date = %v, want ErrRetained", err)
	}
	s.opts.Advance(2 * time.Hour)
	if err := in.DeleteVersion(ctx(t), "r", id1); err != nil {
		t.Fatalf("delete the first version after its extended date: %v", err)
	}
}
