package repo

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
)

// guardRepos makes a repository over one memory store and returns an
// open function for more processes on it, each with its own index.
func guardRepos(t *testing.T, st objectstore.Store) func() *Repository {
	t.Helper()
	ctx := context.Background()
	_, err := Init(ctx, st, pass("pw"), InitOptions{
		Chunker: chunker.Params{Min: 1 << 10, Avg: 2 << 10, Max: 8 << 10},
		Now:     time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() *Repository {
		r, err := Open(ctx, st, pass("pw"), Options{PackSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
}

// deleteEveryVersion deletes key as prune does: every version, by ID.
func deleteEveryVersion(t *testing.T, st *memory.Store, key string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	if err := st.ListVersions(ctx, key, func(v objectstore.Version) error {
		if v.Key == key {
			ids = append(ids, v.VersionID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, v := range ids {
		if err := st.DeleteVersion(ctx, key, v); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshotOf commits files (name → blocks) as one flat snapshot.
func snapshotOf(t *testing.T, r *Repository, files map[string][]BlockRef) *Snapshot {
	t.Helper()
	ctx := context.Background()
	var tr Tree
	for _, name := range slices.Sorted(maps.Keys(files)) {
		var size uint64
		for _, b := range files[name] {
			size += uint64(b.Len)
		}
		tr.Nodes = append(tr.Nodes, Node{Name: name, Type: TypeFile, Blocks: files[name], Size: size})
	}
	root, err := r.SaveTree(ctx, &tr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Time: time.Now(), Tree: root}
	if err := r.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// plannedSnapshot commits content as the one file of a snapshot and returns
// it with the packs that hold the file.
func plannedSnapshot(t *testing.T, r *Repository, content []byte) (*Snapshot, []PackID) {
	t.Helper()
	refs := writeFile(t, r, content)
	return snapshotOf(t, r, map[string][]BlockRef{"x": refs}), packsOfRefs(r, refs)
}

// carryOut deletes what plan names, as prune does once the margin has
// passed: the snapshots, then the packs.
func carryOut(t *testing.T, st *memory.Store, plan *PrunePlan) {
	t.Helper()
	for _, id := range plan.Snapshots {
		deleteEveryVersion(t, st, snapshotPrefix+id)
	}
	for _, p := range plan.Packs {
		deleteEveryVersion(t, st, p.key())
	}
}

// packsOfRefs returns the packs that hold refs, as r's index has them.
func packsOfRefs(r *Repository, refs []BlockRef) []PackID {
	var out []PackID
	for _, b := range refs {
		for _, l := range r.index.locations(b.ID) {
			if !slices.Contains(out, l.Pack) {
				out = append(out, l.Pack)
			}
		}
	}
	return out
}

// TestDaemonKeepsWhatAPrunePlanNames: a daemon deduplicated a file
// against the packs of an old snapshot and holds it in a head not yet
// committed; a prune plans to remove that snapshot and its packs. After
// the daemon's refresh (and the margin) the packs are deleted, and the
// daemon's next commit still reads back completely in a fresh process.
func TestDaemonKeepsWhatAPrunePlanNames(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	open := guardRepos(t, st)

	old := open()
	shared := randBytes(1, 40<<10)
	oldSnap, oldPacks := plannedSnapshot(t, old, shared)
	old.Close()

	daemon := open()
	// The head: the old file again (deduplicated: nothing written),
	// and a new one.
	again := writeFile(t, daemon, shared)
	fresh := randBytes(2, 30<<10)
	newFile := writeFile(t, daemon, fresh)
	if n := daemon.Relied(); n == 0 {
		t.Fatal("the relied set is empty after SaveBlock calls")
	}

	prune := open()
	plan := &PrunePlan{Snapshots: []string{oldSnap.ID}, Packs: oldPacks}
	if err := prune.PutPrunePlan(ctx, Author{Source: "admin"}, plan); err != nil {
		t.Fatal(err)
	}

	seen, err := daemon.RefreshPlans(ctx) // the timer's refresh
	if err != nil || len(seen) != 1 || seen[0].Key != plan.Key {
		t.Fatalf("refresh: %v, %v; want the plan %s", seen, err, plan.Key)
	}
	if again, err := daemon.RefreshPlans(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second refresh: %v, %v; want nothing new", again, err)
	}
	carryOut(t, st, plan) // the margin has passed
	s := snapshotOf(t, daemon, map[string][]BlockRef{"shared": again, "new": newFile})
	reader := open()
	got, err := reader.LoadSnapshot(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := reader.LoadTree(ctx, got.Tree)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"shared": shared, "new": fresh}
	for _, n := range tr.Nodes {
		if b := readAll(t, reader, n.Blocks); !bytes.Equal(b, want[n.Name]) {
			t.Errorf("%s: read back %d bytes, not what was written", n.Name, len(b))
		}
	}
	if len(tr.Nodes) != len(want) {
		t.Fatalf("snapshot holds %d files, want %d", len(tr.Nodes), len(want))
	}
}

// TestRelyOnRaceWithRefresh: a block given to SaveBlock while a refresh
// runs is either moved by it or written again, never left only in the
// plan's packs.
func TestRelyOnRaceWithRefresh(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	open := guardRepos(t, st)
	old := open()
	var files [][]byte
	var refs [][]BlockRef
	for i := range 20 {
		files = append(files, randBytes(uint64(100+i), 6<<10))
		refs = append(refs, writeFile(t, old, files[i]))
	}
	var packs []PackID
	for _, r := range refs {
		for _, p := range packsOfRefs(old, r) {
			if !slices.Contains(packs, p) {
				packs = append(packs, p)
			}
		}
	}
	old.Close()
	daemon := open()
	prune := open()
	if err := prune.PutPrunePlan(ctx, Author{Source: "admin"}, &PrunePlan{Packs: packs}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { _, err := daemon.RefreshPlans(ctx); done <- err }()
	for _, f := range files {
		writeFile(t, daemon, f)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := daemon.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	away := packSet(packs)
	for i, r := range refs {
		for _, b := range r {
			if !daemon.storedOutside(b.ID, away) {
				t.Fatalf("file %d: block %s is stored only in the plan's packs", i, b.ID)
			}
		}
	}
}

// TestCommitFailsWhenPlansUnread: a commit whose refresh of the prune
// plans fails fails, with the store's error (exit 5), and puts no
// snapshot; once the store answers, it succeeds.
func TestCommitFailsWhenPlansUnread(t *testing.T) {
	ctx := context.Background()
	f := faulty.New(memory.New(time.Now))
	open := guardRepos(t, f)
	r := open()
	refs := writeFile(t, r, randBytes(3, 10<<10))
	tree, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "f", Type: TypeFile, Blocks: refs, Size: 10 << 10}}})
	if err != nil {
		t.Fatal(err)
	}
	rule := f.Add(faulty.Fault{Ops: []faulty.Op{faulty.List, faulty.ListVersions}, Prefix: prunePrefix})
	err = r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: tree})
	if !errors.Is(err, errPlansUnread) || !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("commit with prune/ unreadable: %v; want errPlansUnread wrapping the store's error", err)
	}
	if snaps, err := r.Snapshots(ctx); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots after the failed commit: %d, %v; want none", len(snaps), err)
	}
	f.Remove(rule)
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: time.Now(), Tree: tree}); err != nil {
		t.Fatal(err)
	}
}

// TestDropReliedKeepsLaterBlocks: DropRelied forgets what was given up
// to the mark, not what was given (again) after it.
func TestDropReliedKeepsLaterBlocks(t *testing.T) {
	r := testRepo(t)
	a := writeFile(t, r, randBytes(4, 100<<10))
	mark := r.MarkRelied()
	b := writeFile(t, r, randBytes(5, 100<<10))
	writeFile(t, r, randBytes(4, 100<<10)) // a again, after the mark
	r.DropRelied(mark)
	g := &r.guard
	for _, refs := range [][]BlockRef{a, b} {
		for _, x := range refs {
			if _, ok := g.relied[x.ID]; !ok {
				t.Fatalf("block %s given after the mark was dropped", x.ID)
			}
		}
	}
	r.DropRelied(r.MarkRelied())
	if n := r.Relied(); n != 0 {
		t.Fatalf("%d blocks relied on after dropping everything", n)
	}
}

// TestResumedCheckpointIsRelied: a daemon killed with a checkpoint that
// deduplicated a file against an old snapshot's packs; the next daemon
// resumes it and relies on its changed blocks, so a plan removing that
// snapshot and its packs costs the checkpoint nothing.
func TestResumedCheckpointIsRelied(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	open := guardRepos(t, st)
	first := open()
	content := randBytes(6, 40<<10)
	oldSnap, oldPacks := plannedSnapshot(t, first, content)
	base := snapshotOf(t, first, map[string][]BlockRef{"z": writeFile(t, first, randBytes(7, 5<<10))})
	// The crashed daemon's checkpoint: base's z, and x's bytes in a new
	// subdirectory.
	baseTree, err := first.LoadTree(ctx, base.Tree)
	if err != nil {
		t.Fatal(err)
	}
	again := writeFile(t, first, content)
	sub, err := first.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "b", Type: TypeFile, Blocks: again, Size: uint64(len(content))}}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := first.SaveTree(ctx, &Tree{Nodes: append(slices.Clone(baseTree.Nodes), Node{Name: "d", Type: TypeDir, Subtree: sub})})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkpoint := &Snapshot{Parent: base.ID, Tree: root}
	first.Close()

	resumed := open()
	if err := resumed.RelyOnCheckpoint(ctx, checkpoint); err != nil {
		t.Fatal(err)
	}
	for _, b := range again {
		if _, ok := resumed.guard.relied[b.ID]; !ok {
			t.Fatalf("the checkpoint's block %s is not relied on", b.ID)
		}
	}
	plan := &PrunePlan{Snapshots: []string{oldSnap.ID}, Packs: oldPacks}
	if err := open().PutPrunePlan(ctx, Author{Source: "admin"}, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := resumed.RefreshPlans(ctx); err != nil {
		t.Fatal(err)
	}
	carryOut(t, st, plan)
	reader := open()
	if got := readAll(t, reader, again); !bytes.Equal(got, content) {
		t.Fatal("the checkpoint's file does not read back")
	}
}
