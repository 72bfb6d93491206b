package s3_test

import (
	"context"
	"slices"
	"testing"

	"coffer/objectstore"
	"coffer/objectstore/s3/s3test"
)

// TestListVersionsSpansPages lists versions and delete markers in pages
// of two entries, so each key's versions are split across pages and
// versions and markers arrive in separate lists: every key must still
// come out whole, oldest first, and each key once.
func TestListVersionsSpansPages(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	st := newStore(t, srv.Config(bucket, "pv"))
	in := srv.Intruder(t, bucket, "pv/")
	ctx := context.Background()
	want := map[string][]string{}
	for _, key := range []string{"a", "b/c", "c"} {
		id, err := st.Put(ctx, key, []byte(key), objectstore.Retention{})
		if err != nil {
			t.Fatal(err)
		}
		want[key] = []string{id, in.Overwrite(key, []byte("x")), in.Hide(key), in.Overwrite(key, []byte("y"))}
	}
	var keys []string
	got := map[string][]string{}
	markers := map[string][]bool{}
	err := st.ListVersionsPaged(ctx, "", 2, func(v objectstore.Version) error {
		if len(keys) == 0 || keys[len(keys)-1] != v.Key {
			keys = append(keys, v.Key)
		}
		got[v.Key] = append(got[v.Key], v.VersionID)
		markers[v.Key] = append(markers[v.Key], v.DeleteMarker)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b/c", "c"}) {
		t.Fatalf("keys in order %q, want a, b/c, c each once", keys)
	}
	for key, ids := range want {
		if !slices.Equal(got[key], ids) || !slices.Equal(markers[key], []bool{false, false, true, false}) {
			t.Errorf("%s: versions %q markers %v, want %q with the third a marker", key, got[key], markers[key], ids)
		}
	}
}
