package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
)

func TestNewNeedsDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	if _, err := local.New(missing, nil); !errors.Is(err, objectstore.ErrNoBucket) {
		t.Fatalf("New on a missing directory = %v, want ErrNoBucket", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(file, nil); !errors.Is(err, objectstore.ErrNoBucket) {
		t.Fatalf("New on a file = %v, want ErrNoBucket", err)
	}
}

// TestCorruptionDetected flips a stored byte: Get reports ErrCorrupt and
// GetRange, which does not verify, returns the stored bytes.
func TestCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	st, err := local.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 10)
	if _, err := st.Put(ctx, "a/b", data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a", "b@obj")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("object file: %v", err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Fatalf("object file mode %v, want 0444", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-5] ^= 1
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "a/b"); !errors.Is(err, objectstore.ErrCorrupt) {
		t.Fatalf("Get of damaged object = %v, want ErrCorrupt", err)
	}
	got, err := st.GetRange(ctx, "a/b", 90, 10)
	if err != nil || !bytes.Equal(got, raw[len(raw)-10:]) {
		t.Fatalf("GetRange = %q, %v; want the stored bytes", got, err)
	}
}

// TestKeyAndPrefixKey checks that "a" and "a/b" can both be keys (a file
// and a directory of the same name never collide) and that sidecars and
// temp files stay out of listings.
func TestKeyAndPrefixKey(t *testing.T) {
	now := time.Now()
	st, err := local.New(t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "a/b", "a/b/c"} {
		if _, err := st.Put(ctx, k, []byte(k), objectstore.Retention{}); err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
	}
	if err := st.ExtendRetention(ctx, "a/b", objectstore.Retention{Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := st.List(ctx, "", func(i objectstore.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0] != "a" || keys[1] != "a/b" || keys[2] != "a/b/c" {
		t.Fatalf("List = %q, want [a a/b a/b/c]", keys)
	}
	if err := st.Delete(ctx, "a/b"); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("Delete of a/b after ExtendRetention = %v, want ErrRetained", err)
	}
}

// TestTwoStoresOneDirectory races Puts of one key from two Store values
// on the same directory, as two processes would: exactly one wins.
func TestTwoStoresOneDirectory(t *testing.T) {
	dir := t.TempDir()
	stores := make([]*local.Store, 2)
	for i := range stores {
		st, err := local.New(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	for round := range 50 {
		key := "k/" + string(rune('a'+round%26)) + string(rune('a'+round/26))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, st := range stores {
			wg.Go(func() { _, errs[i] = st.Put(context.Background(), key, []byte{byte(i)}, objectstore.Retention{}) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, objectstore.ErrExists):
				t.Fatalf("Put: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d Puts won, want 1", round, wins)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "@tmp"))
	if err != nil || len(entries) != 0 {
		t.Fatalf("temp files left behind: %d, %v", len(entries), err)
	}
}
