package tests

// What an intruder who holds the key file as well as the S3 credentials
// can add, made with coffer's own packages: forged blocks, snapshots and
// revocations. All of it is new objects; none of it may change what an
// old snapshot holds or lock the owner out.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
	crepo "coffer/repo"
)

// openWithKey opens the repository in st as an intruder who copied the
// key file would: with coffer's own repo package. The caller closes it.
func openWithKey(ctx context.Context, t *testing.T, st objectstore.Store, keyFile string) *crepo.Repository {
	t.Helper()
	fileKey, err := cipher.ReadKeyFile(keyFile)
	must(t, err)
	r, err := crepo.Open(ctx, st, crepo.Secret{KeyFile: fileKey}, crepo.Options{})
	if err != nil {
		t.Fatalf("the intruder opens the repository with the key: %v", err)
	}
	return r
}

// forgeVictim does what an intruder holding the key file can: it opens
// the repository with coffer's own repo package, finds the block of
// forge/victim.bin and the tree of forge/ in the old snapshot, and writes
// a new pack and a new index that name those two block IDs with other
// bytes (a victim.bin of the same length saying something else, a forge/
// listing a ransom note beside it). It returns the keys of the objects
// it added.
func forgeVictim(ctx context.Context, t *testing.T, be *backend, keyFile string, old proofSnap) []string {
	t.Helper()
	st := storeOf(t, be)
	real := openWithKey(ctx, t, st, keyFile)
	defer real.Close()
	snap, err := real.LoadSnapshot(ctx, old.id)
	must(t, err)
	dir := idField(t, snap, "tree")
	for _, name := range []string{"data", "forge"} {
		dir = idField(t, findNode(ctx, t, real, dir, name), "subtree")
	}
	victim := findNode(ctx, t, real, dir, "victim.bin")
	if len(victim.Blocks) != 1 {
		t.Fatalf("forge/victim.bin has %d blocks, want 1", len(victim.Blocks))
	}
	block := victim.Blocks[0]

	// A repository opened without the index knows no block, so it seals
	// and packs whatever it is given under the IDs it is given.
	before := append(listKeys(t, st, "data/"), listKeys(t, st, "index/")...)
	blind := openWithKey(ctx, t, withoutIndex{st}, keyFile)
	defer blind.Close()
	lie := bytes.Repeat([]byte("the intruder wrote this. "), int(block.Len)/25+1)[:block.Len]
	must(t, blind.SaveBlock(ctx, crepo.DataBlock, block.ID, lie))
	forged := crepo.Tree{Nodes: []crepo.Node{
		{Name: "RANSOM.txt", Type: crepo.TypeFile, Mode: 0o644, Size: uint64(block.Len), Blocks: victim.Blocks},
		*victim,
	}}
	raw, err := json.Marshal(&forged)
	must(t, err)
	must(t, blind.SaveBlock(ctx, crepo.TreeBlock, dir, raw))
	must(t, blind.Flush(ctx))
	added := newKeyList(before, append(listKeys(t, st, "data/"), listKeys(t, st, "index/")...))
	if len(added) != 2 {
		t.Fatalf("the forgery added %q, want one pack and one index", added)
	}
	return added
}

// findNode returns the entry called name in tree id.
func findNode(ctx context.Context, t *testing.T, r *crepo.Repository, id cipher.ID, name string) *crepo.Node {
	t.Helper()
	tree, err := r.LoadTree(ctx, id)
	must(t, err)
	for i := range tree.Nodes {
		if tree.Nodes[i].Name == name {
			return &tree.Nodes[i]
		}
	}
	t.Fatalf("no %s in tree %s", name, id)
	return nil
}

// idField reads the block ID that a snapshot ("tree") or a directory
// node ("subtree") names from its JSON form, where the format writes it
// as hex, so the test does not depend on how repo's structs carry it.
func idField(t *testing.T, v any, field string) cipher.ID {
	t.Helper()
	raw, err := json.Marshal(v)
	must(t, err)
	var fields map[string]json.RawMessage
	must(t, json.Unmarshal(raw, &fields))
	var hexID string
	if err := json.Unmarshal(fields[field], &hexID); err != nil {
		t.Fatalf("%s of %s: %v", field, raw, err)
	}
	id, err := cipher.ParseID(hexID)
	must(t, err)
	return id
}

// withoutIndex is a store whose listings leave out index/.
type withoutIndex struct{ objectstore.Store }

func (w withoutIndex) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	return w.Store.List(ctx, prefix, func(i objectstore.Info) error {
		if strings.HasPrefix(i.Key, "index/") {
			return nil
		}
		return fn(i)
	})
}

func (w withoutIndex) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	return w.Store.ListVersions(ctx, prefix, func(v objectstore.Version) error {
		if strings.HasPrefix(v.Key, "index/") {
			return nil
		}
		return fn(v)
	})
}

// forgeSnapshot does what an intruder holding the key can: it writes a
// new, valid snapshot (the old tree, dated now, naming the newest as its
// parent), so that the next head would roll back to it. It returns its ID.
func forgeSnapshot(ctx context.Context, t *testing.T, be *backend, keyFile string, old, newest proofSnap) string {
	t.Helper()
	real := openWithKey(ctx, t, storeOf(t, be), keyFile)
	defer real.Close()
	s, err := real.LoadSnapshot(ctx, old.id)
	must(t, err)
	fake := *s
	fake.ID, fake.Time, fake.Parent = "", time.Now().UTC(), newest.id
	must(t, real.SaveSnapshot(ctx, &fake))
	return fake.ID
}

// forgeRevocation does what an intruder holding the key can to lock the
// owner out: it revokes, forcing it, the one key slot still usable, and
// returns the revocation's key. coffer must not honour it.
func forgeRevocation(ctx context.Context, t *testing.T, be *backend, keyFile string) string {
	t.Helper()
	st := storeOf(t, be)
	real := openWithKey(ctx, t, st, keyFile)
	defer real.Close()
	before := listKeys(t, st, "revocations/")
	honoured, err := real.RevokeSlot(ctx, real.SlotID(), true)
	must(t, err)
	if honoured {
		t.Errorf("a revocation of the last usable key slot %s would be honoured", real.SlotID())
	}
	added := newKeyList(before, listKeys(t, st, "revocations/"))
	if len(added) != 1 {
		t.Fatalf("the forced revocation added %q, want one revocation", added)
	}
	return added[0]
}
