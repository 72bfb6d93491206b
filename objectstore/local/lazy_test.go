package local_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
)

// Opening a directory and reading from it creates nothing there: a command
// pointed at a directory that is not a repository must leave it as it was.
// The first write creates what the store needs.
func TestReadsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	st, err := local.New(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Get(ctx, "config"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	if _, err := st.Head(ctx, "keys/a"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("head: %v", err)
	}
	if err := st.List(ctx, "", func(objectstore.Info) error { return nil }); err != nil {
		t.Fatalf("list: %v", err)
	}
	if err := st.Delete(ctx, "a"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("delete: %v", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("reading a directory created %v in it", names)
	}
	if _, err := st.Put(ctx, "a", []byte("x"), objectstore.Retention{}); err != nil {
		t.Fatalf("first put: %v", err)
	}
	if err := st.ExtendRetention(ctx, "a", objectstore.Retention{Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("extend retention: %v", err)
	}
	if err := st.Delete(ctx, "a"); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("delete retained: %v", err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}
