package repo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// rangeCount counts ranged reads.
type rangeCount struct {
	objectstore.Store
	n atomic.Int64
}

func (c *rangeCount) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	c.n.Add(1)
	return c.Store.GetRange(ctx, key, off, length)
}

// TestPreloadTrees: after PreloadTrees, walking every snapshot reads no
// tree from the store; the trees came in a few ranged reads, not one
// each.
func TestPreloadTrees(t *testing.T) {
	ctx := context.Background()
	st, secret := memRepo(t, time.Now)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	var subs []Node
	for i := range 50 {
		id, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "f", Type: TypeSymlink, Target: fmt.Sprint(i)}, {Name: "g", Type: TypeFIFO}}})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, Node{Name: string(rune('A'+i/26)) + string(rune('a'+i%26)), Type: TypeDir, Mode: 0o755, Subtree: id})
	}
	root, err := r.SaveTree(ctx, &Tree{Nodes: subs})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Host: "h", Tree: root}); err != nil {
		t.Fatal(err)
	}
	r.Close()

	counted := &rangeCount{Store: st}
	r, err = openRepo(t, counted, secret)
	if err != nil {
		t.Fatal(err)
	}
	before := counted.n.Load()
	n, err := r.PreloadTrees(ctx)
	if err != nil || n != 51 {
		t.Fatalf("PreloadTrees loaded %d trees of 51: %v", n, err)
	}
	if reads := counted.n.Load() - before; reads > 2 {
		t.Errorf("PreloadTrees made %d ranged reads for 51 trees in one pack", reads)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before = counted.n.Load()
	walked := 0
	if err := r.NewWalker().WalkSnapshot(ctx, snaps[0], func(context.Context, string, cipher.ID, *Tree) error {
		walked++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if reads := counted.n.Load() - before; walked != 51 || reads != 0 {
		t.Fatalf("the walk visited %d trees and read %d from the store", walked, reads)
	}
}
