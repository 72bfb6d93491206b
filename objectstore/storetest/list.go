package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"coffer/objectstore"
)

// listKeys returns the keys List reports for prefix, in its order, and
// checks each Info's size against sizes when given.
func listKeys(t *testing.T, st objectstore.Store, prefix string, sizes map[string]int64) []string {
	t.Helper()
	var keys []string
	err := st.List(ctx(t), prefix, func(info objectstore.Info) error {
		keys = append(keys, info.Key)
		if want, ok := sizes[info.Key]; ok && info.Size != want {
			t.Errorf("List: %s has size %d, want %d", info.Key, info.Size, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func (s suite) testList(t *testing.T) {
	st := s.newStore(t)
	// '-' < '.' < '/' < '0' in byte order, so a naive directory walk would
	// put "a/..." before "a-b"; the contract is lexical order of keys.
	keys := []string{"a/2", "a/1", "a-b", "a.c", "a/sub/x", "b/1", "a0", "ab"}
	sizes := map[string]int64{}
	for i, k := range keys {
		data := make([]byte, i+1)
		sizes[k] = int64(len(data))
		mustPut(t, st, k, data, objectstore.Retention{})
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"a/", []string{"a/1", "a/2", "a/sub/x"}},
		{"a", []string{"a-b", "a.c", "a/1", "a/2", "a/sub/x", "a0", "ab"}},
		{"a/s", []string{"a/sub/x"}},
		{"b/1", []string{"b/1"}},
		{"c", nil},
	} {
		got := listKeys(t, st, tc.prefix, sizes)
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

func (s suite) testListMany(t *testing.T) {
	st := s.newStore(t)
	const n = 1100 // more than one S3 page of 1,000
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if _, err := st.Put(ctx(t), keyN("many/", i), []byte{byte(i)}, objectstore.Retention{}); err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	mustPut(t, st, "manz", []byte("outside the prefix"), objectstore.Retention{})
	got := listKeys(t, st, "many/", nil)
	if len(got) != n {
		t.Fatalf("List returned %d keys, want %d", len(got), n)
	}
	for i, k := range got {
		if k != keyN("many/", i) {
			t.Fatalf("List key %d = %q, want %q", i, k, keyN("many/", i))
		}
	}
	vs := listVersions(t, st, "many/")
	if len(vs) != n {
		t.Fatalf("ListVersions returned %d versions, want %d", len(vs), n)
	}
	for i, v := range vs {
		if v.Key != keyN("many/", i) || v.DeleteMarker || v.Size != 1 {
			t.Fatalf("ListVersions entry %d = %+v, want %q", i, v, keyN("many/", i))
		}
	}
}

func (s suite) testListStops(t *testing.T) {
	st := s.newStore(t)
	for i := range 5 {
		mustPut(t, st, keyN("s/", i), []byte("x"), objectstore.Retention{})
	}
	stop := errors.New("enough")
	calls := 0
	err := st.List(ctx(t), "s/", func(objectstore.Info) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List = %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Fatalf("callback ran %d times after returning an error on call 2", calls)
	}
}
