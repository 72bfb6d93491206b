package repo

import (
	"context"
	"errors"
	"slices"
	"testing"

	"coffer/cipher"
)

// saveDirs stores a tree /a/{x,y} and /b with given file contents in x
// and returns the root ID and the IDs by path.
func saveDirs(t *testing.T, r *Repository, xData []byte) (cipher.ID, map[string]cipher.ID) {
	t.Helper()
	ctx := context.Background()
	ids := map[string]cipher.ID{}
	save := func(p string, nodes ...Node) cipher.ID {
		id, err := r.SaveTree(ctx, &Tree{Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		ids[p] = id
		return id
	}
	refs := writeFile(t, r, xData)
	file := Node{Name: "f", Type: TypeFile, Blocks: refs, Size: uint64(len(xData))}
	dir := func(name string, id cipher.ID) Node { return Node{Name: name, Type: TypeDir, Subtree: FormatID(id)} }
	x := save("/a/x", file)
	y := save("/a/y", Node{Name: "g", Type: TypeSymlink, Target: "f"})
	a := save("/a", dir("x", x), dir("y", y))
	b := save("/b")
	root := save("/", dir("a", a), dir("b", b))
	return root, ids
}

func TestWalkerVisitsEachTreeOnce(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	root1, ids1 := saveDirs(t, r, []byte("one"))
	root2, ids2 := saveDirs(t, r, []byte("two")) // /a/x, /a and / change; /a/y and /b are shared
	var got []string
	visit := func(_ context.Context, dir string, id cipher.ID, _ *Tree) error {
		got = append(got, dir)
		return nil
	}
	w := r.NewWalker()
	if err := w.Walk(ctx, root1, visit); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/a", "/a/x", "/a/y", "/b"}; !slices.Equal(got, want) {
		t.Fatalf("first walk visited %v, want %v", got, want)
	}
	got = nil
	if err := w.Walk(ctx, root2, visit); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/a", "/a/x"}; !slices.Equal(got, want) {
		t.Fatalf("second walk visited %v, want only the changed trees %v", got, want)
	}
	if ids1["/a/y"] != ids2["/a/y"] || !w.Seen(ids2["/b"]) || w.SeenCount() != 8 {
		t.Fatalf("shared trees not shared or not seen: seen %d", w.SeenCount())
	}

	// A fresh walker told what an earlier walk saw visits nothing again.
	w2 := r.NewWalker()
	w2.MarkSeen(ids1["/a"])
	got = nil
	if err := w2.Walk(ctx, root1, visit); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/b"}; !slices.Equal(got, want) {
		t.Fatalf("walk with /a marked visited %v, want %v", got, want)
	}
}

func TestWalkerSkipAndErrors(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	root, ids := saveDirs(t, r, []byte("one"))
	var got []string
	err := r.NewWalker().Walk(ctx, root, func(_ context.Context, dir string, _ cipher.ID, _ *Tree) error {
		got = append(got, dir)
		if dir == "/a" {
			return SkipTree
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"/", "/a", "/b"}) {
		t.Fatalf("SkipTree at /a: visited %v, %v", got, err)
	}

	boom := errors.New("boom")
	err = r.NewWalker().Walk(ctx, root, func(_ context.Context, dir string, _ cipher.ID, _ *Tree) error {
		if dir == "/a/x" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("visitor error: got %v", err)
	}

	// A tree that no index knows: the walk fails, unless OnError skips it.
	var missing cipher.ID
	missing[0] = 1
	broken, err := r.SaveTree(ctx, &Tree{Nodes: []Node{
		{Name: "a", Type: TypeDir, Subtree: FormatID(ids["/a"])},
		{Name: "gone", Type: TypeDir, Subtree: FormatID(missing)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.NewWalker().Walk(ctx, broken, func(context.Context, string, cipher.ID, *Tree) error { return nil }); !errors.Is(err, ErrMissingBlock) {
		t.Fatalf("missing subtree: got %v, want ErrMissingBlock", err)
	}
	w := r.NewWalker()
	var skipped []string
	w.OnError = func(dir string, _ cipher.ID, err error) error {
		skipped = append(skipped, dir)
		return nil
	}
	got = nil
	err = w.Walk(ctx, broken, func(_ context.Context, dir string, _ cipher.ID, _ *Tree) error {
		got = append(got, dir)
		return nil
	})
	if err != nil || !slices.Equal(skipped, []string{"/gone"}) || !slices.Equal(got, []string{"/", "/a", "/a/x", "/a/y"}) {
		t.Fatalf("OnError: visited %v, skipped %v, %v", got, skipped, err)
	}
}
