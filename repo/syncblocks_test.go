package repo

import (
	"context"
	"testing"

	"coffer/objectstore"
)

// TestSyncBlocks: syncing blocks that are already stored costs no request
// (tools fsync every output file after writing them all); syncing blocks
// still pending makes them durable.
func TestSyncBlocks(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	objects := func() int {
		n := 0
		for _, p := range []string{dataPrefix, indexPrefix} {
			if err := r.store.List(ctx, p, func(objectstore.Info) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	stored := writeFile(t, r, randBytes(1, 300<<10))
	before := objects()
	for range 3 {
		if err := r.SyncBlocks(ctx, stored); err != nil {
			t.Fatal(err)
		}
	}
	if got := objects(); got != before {
		t.Errorf("syncing stored blocks wrote %d objects", got-before)
	}

	w := r.NewFileWriter()
	if err := w.WriteAt(ctx, randBytes(2, 100<<10), 0); err != nil {
		t.Fatal(err)
	}
	pending, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SyncBlocks(ctx, pending); err != nil {
		t.Fatal(err)
	}
	for _, b := range pending {
		if !r.index.has(b.ID) {
			t.Errorf("block %s not stored after SyncBlocks", b.ID)
		}
	}
	if objects() == before {
		t.Errorf("syncing pending blocks stored nothing")
	}
}
