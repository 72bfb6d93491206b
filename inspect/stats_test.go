package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"coffer/cipher"
	"coffer/golden"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/repo"
)

// stored is the stored size of the blocks of the files at paths in s,
// and of the trees of dirs.
func stored(t *testing.T, r *repo.Repository, s *repo.Snapshot, files []string, dirs []string) int64 {
	t.Helper()
	var sum int64
	size := func(id cipher.ID) {
		n, ok := r.StoredSize(id)
		if !ok {
			t.Fatalf("block %s not indexed", id)
		}
		sum += n
	}
	for _, p := range files {
		n, err := r.LookupPath(context.Background(), s, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range n.Blocks {
			size(b.ID)
		}
	}
	for _, p := range dirs {
		n, err := r.LookupPath(context.Background(), s, p)
		if err != nil {
			t.Fatal(err)
		}
		size(n.Subtree)
	}
	return sum
}

// computeAll lists every snapshot and computes the stats of all.
func computeAll(t *testing.T, r *repo.Repository) ([]*repo.Snapshot, *Stats) {
	t.Helper()
	ctx := context.Background()
	all, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Compute(ctx, r, all, all, repo.NameSnapshots(all))
	if err != nil {
		t.Fatal(err)
	}
	return all, st
}

func TestStats(t *testing.T) {
	r, _ := testRepo(t)
	ctx := context.Background()
	big := strings.Repeat("b", 5000)
	a := commit(t, r, spec{"x": big, "copy": big, "d": spec{"y": "why"}}, t0, nil)
	b := commit(t, r, spec{"x": big, "copy": big, "d": spec{"y": "why"}, "z": "zed"}, t0.Add(3600e9), a, "daily")
	all, st := computeAll(t, r)
	addedA := stored(t, r, a, []string{"/x", "/d/y"}, []string{"/", "/d"}) // copy is x's block again
	addedB := stored(t, r, b, []string{"/z"}, []string{"/"})               // /d is a's tree
	if got := st.PerSnapshot[0].AddedBytes; got != addedA {
		t.Errorf("first snapshot added %d bytes, want %d", got, addedA)
	}
	if got := st.PerSnapshot[1].AddedBytes; got != addedB {
		t.Errorf("second snapshot added %d bytes, want %d", got, addedB)
	}
	if st.StoredBytes != addedA+addedB || st.Blocks != 4+2 || st.Snapshots != 2 {
		t.Errorf("stored %d bytes in %d blocks of %d snapshots, want %d in 6 of 2", st.StoredBytes, st.Blocks, st.Snapshots, addedA+addedB)
	}
	if st.Files != 3+4 || st.LogicalBytes != a.Size+b.Size || a.Size != 10003 {
		t.Errorf("files %d, logical %d", st.Files, st.LogicalBytes)
	}
	if want := float64(st.LogicalBytes) / float64(st.StoredBytes); st.DedupRatio < want-0.001 || st.DedupRatio > want+0.001 || st.DedupRatio < 1.5 {
		t.Errorf("dedup ratio %v, want %v", st.DedupRatio, want)
	}
	if st.MissingBlocks != 0 || len(st.Problems) != 0 {
		t.Errorf("problems in a sound repository: %v", st.Problems)
	}
	// The newest alone: what it added still counts from the oldest on;
	// what it stores is all its blocks.
	one, err := Compute(ctx, r, all, all[1:], repo.NameSnapshots(all)[1:])
	if err != nil {
		t.Fatal(err)
	}
	if one.PerSnapshot[0].AddedBytes != addedB || one.StoredBytes != stored(t, r, b, []string{"/x", "/d/y", "/z"}, []string{"/", "/d"}) {
		t.Errorf("stats of one snapshot: %+v", one)
	}
	if one.Repository.StoredBytes < st.StoredBytes || one.Repository.Blocks < st.Blocks {
		t.Errorf("the repository holds less than its snapshots: %+v", one.Repository)
	}
}

// TestStatsDamage: a block no index names, and a tree that cannot be
// read, leave the figures short and say so; the rest is still counted.
func TestStatsDamage(t *testing.T) {
	r, _ := testRepo(t)
	var ghost cipher.ID
	ghost[0] = 1
	var ghostTree cipher.ID
	ghostTree[0] = 2
	a := commit(t, r, spec{
		"ok":   "fine",
		"lost": repo.Node{Type: repo.TypeFile, Size: 3, Blocks: []repo.BlockRef{{ID: ghost, Len: 3}}},
		"gone": repo.Node{Type: repo.TypeDir, Subtree: ghostTree, Mode: 0o755},
	}, t0, nil)
	_, st := computeAll(t, r)
	if st.MissingBlocks != 1 || len(st.Problems) != 2 ||
		!strings.Contains(st.Problems[0]+st.Problems[1], ghost.String()) ||
		!strings.Contains(st.Problems[0]+st.Problems[1], ghostTree.String()) {
		t.Errorf("problems %q, missing %d", st.Problems, st.MissingBlocks)
	}
	if want := stored(t, r, a, []string{"/ok"}, []string{"/"}); st.StoredBytes != want {
		t.Errorf("stored %d, want %d", st.StoredBytes, want)
	}
}

func TestStatsJSONGolden(t *testing.T) {
	r, _ := testRepo(t)
	a := commit(t, r, sampleTree(), t0, nil)
	b := commit(t, r, changedTree(), t0.Add(3600e9), a, "daily")
	_, st := computeAll(t, r)
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "stats.json", append(out, '\n'), map[string]string{a.ID: "SNAPSHOT-A", b.ID: "SNAPSHOT-B"})
}

// TestStatsStoreFails: a store that fails half-way is an error (the
// store's), not trees reported unreadable and figures quietly short.
func TestStatsStoreFails(t *testing.T) {
	r, st := testRepo(t)
	ctx := context.Background()
	commit(t, r, spec{"d": spec{"e": spec{"f": "x"}}}, t0, nil)
	fst := faulty.New(st)
	r2, err := repo.Open(ctx, fst, repo.Secret{Passphrase: []byte("pw")}, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	all, err := r2.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fst.Add(faulty.Fault{Ops: []faulty.Op{faulty.GetRange, faulty.GetVersionRange}, Skip: 1})
	_, err = Compute(ctx, r2, all, all, repo.NameSnapshots(all))
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("stats over a failing store: %v, want the store's error", err)
	}
	if _, _, err := AddedBy(ctx, r2, all); !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("added over a failing store: %v, want the store's error", err)
	}
}
