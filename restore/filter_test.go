package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coffer/restore"
)

func TestFilter(t *testing.T) {
	cases := []struct {
		include, exclude []string
		selected, not    []string
		descend, skip    []string
	}{
		{exclude: []string{"*.log"}, selected: []string{"/a/x.txt", "/log"}, not: []string{"/a/x.log", "/x.log/inside"}},
		{exclude: []string{"/sub"}, selected: []string{"/a/sub", "/subway"}, not: []string{"/sub", "/sub/x"}, skip: []string{"/sub"}},
		{exclude: []string{"sub"}, selected: []string{"/a/subway"}, not: []string{"/a/sub/x", "/sub"}},
		{include: []string{"/sub/twin"}, selected: []string{"/sub/twin", "/sub/twin/same"}, not: []string{"/big", "/sub", "/twin/same"},
			descend: []string{"/", "/sub", "/sub/twin"}, skip: []string{"/twin", "/other"}},
		{include: []string{"*.go"}, selected: []string{"/a/b.go", "/x.go/y"}, not: []string{"/a/b.c"}, descend: []string{"/a", "/a/b"}},
		{include: []string{"/a/**/x"}, selected: []string{"/a/x", "/a/b/c/x", "/a/b/x/y"}, not: []string{"/b/x", "/a/y"},
			descend: []string{"/a", "/a/b/c"}, skip: []string{"/c"}},
		{include: []string{"/sub"}, exclude: []string{"twin"}, selected: []string{"/sub/linked-too"}, not: []string{"/sub/twin/same"},
			skip: []string{"/sub/twin"}},
	}
	for _, c := range cases {
		name := "include " + strings.Join(c.include, ",") + " exclude " + strings.Join(c.exclude, ",")
		f, err := restore.NewFilter(c.include, c.exclude)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range c.selected {
			if !f.Selected(p) {
				t.Errorf("%s: %s not selected", name, p)
			}
		}
		for _, p := range c.not {
			if f.Selected(p) {
				t.Errorf("%s: %s selected", name, p)
			}
		}
		for _, p := range c.descend {
			if !f.Descend(p) {
				t.Errorf("%s: does not descend into %s", name, p)
			}
		}
		for _, p := range c.skip {
			if f.Descend(p) {
				t.Errorf("%s: descends into %s", name, p)
			}
		}
	}
	if _, err := restore.NewFilter([]string{"[a"}, nil); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}

// TestRestoreInclude restores one directory deep in the tree: the
// directories above it are made with their snapshot metadata, and
// nothing else is written.
func TestRestoreInclude(t *testing.T) {
	r, s, _, node := sampleSnapshot(t)
	target := t.TempDir()
	f, err := restore.NewFilter([]string{"/sub/twin"}, []string{"*.log"})
	must(t, err)
	if _, p, err := restoreAll(t, r, node, target, restore.Options{Filter: f}); err != nil || len(p) > 0 {
		t.Fatal(err, p)
	}
	var got []string
	must(t, filepath.Walk(target, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(target, p)
		got = append(got, rel)
		return err
	}))
	if want := []string{".", "sub", "sub/twin", "sub/twin/same"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
	sub, err := r.LookupPath(context.Background(), s, "/sub")
	must(t, err)
	checkNode(t, r, sub, filepath.Join(target, "sub"))

	// SNAPSHOT:PATH of a file restores it into the target.
	file, err := r.LookupPath(context.Background(), s, "sub/twin/same")
	must(t, err)
	one := t.TempDir()
	if _, p, err := restoreAll(t, r, file, one, restore.Options{}); err != nil || len(p) > 0 {
		t.Fatal(err, p)
	}
	checkNode(t, r, file, filepath.Join(one, "same"))
}
