package repo

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// TestMoveBlocksOutOfAPack: blocks stored only in a pack that is to go are
// written again; after the pack is deleted, a fresh process reads every
// block, and a block that was also elsewhere is not written twice.
func TestMoveBlocksOutOfAPack(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	if _, err := Init(ctx, st, pass("pw"), InitOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st, pass("pw"), Options{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []cipher.ID
	plains := map[cipher.ID][]byte{}
	for i := 0; i < 8; i++ {
		p := make([]byte, 10<<10)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		id := r.keys.BlockID(p)
		if err := r.SaveBlock(ctx, DataBlock, id, p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		plains[id] = p
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := r.index.get(ids[0])
	away := loc.Pack
	inAway := 0
	for _, id := range ids {
		if l, _ := r.index.get(id); l.Pack == away {
			inAway++
		}
	}
	moved, err := r.MoveBlocks(ctx, ids, []PackID{away})
	if err != nil {
		t.Fatal(err)
	}
	if moved != inAway || inAway == len(ids) {
		t.Fatalf("moved %d blocks, want the %d of %d in that pack", moved, inAway, len(ids))
	}
	for _, id := range ids {
		for _, l := range r.index.locations(id) {
			if l.Pack == away {
				t.Fatalf("block %s still located in the pack moved away from", id)
			}
		}
	}
	if again, err := r.MoveBlocks(ctx, ids, []PackID{away}); err != nil || again != 0 {
		t.Fatalf("second move: %d, %v; want nothing to do", again, err)
	}
	var vs []objectstore.Version
	if err := st.ListVersions(ctx, away.key(), func(v objectstore.Version) error { vs = append(vs, v); return nil }); err != nil || len(vs) != 1 {
		t.Fatalf("pack versions: %v %v", vs, err)
	}
	if err := st.DeleteVersion(ctx, away.key(), vs[0].VersionID); err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(ctx, st, pass("pw"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, id := range ids {
		got, err := fresh.ReadBlock(ctx, DataBlock, id)
		if err != nil || string(got) != string(plains[id]) {
			t.Fatalf("block %s after the pack was deleted: %v", id, err)
		}
	}
	if _, err := fresh.ReadBlock(ctx, DataBlock, cipher.ID{1}); !errors.Is(err, ErrMissingBlock) {
		t.Fatalf("unknown block: %v", err)
	}
}
