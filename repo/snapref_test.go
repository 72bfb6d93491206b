package repo

import (
	"errors"
	"strings"
	"testing"
)

// TestSplitSnapshotPath: the snapshot part may hold colons of its own
// (the listing's time); the path is what follows the first colon after a
// reference that resolves, cleaned and absolute.
func TestSplitSnapshotPath(t *testing.T) {
	a := snapAt("aaaa1111"+strings.Repeat("0", 24), "2026-11-28T22:00:00Z", "")
	b := snapAt("bbbb2222"+strings.Repeat("1", 24), "2026-11-28T22:05:01Z", "")
	c := snapAt("bbbb3333"+strings.Repeat("2", 24), "2026-11-28T22:05:01.5Z", "")
	all := []*Snapshot{a, b, c}
	names := NameSnapshots(all)
	for _, tc := range []struct {
		arg  string
		want *Snapshot
		path string
	}{
		{"latest", c, "/"},
		{"latest:", c, "/"},
		{"latest:/etc", c, "/etc"},
		{"latest:etc/../srv/", c, "/srv"},
		{"aaaa", a, "/"},
		{"aaaa:/a:b", a, "/a:b"},
		{"2026-11-28T22:00:00Z", a, "/"},
		{"2026-11-28T22:00:00Z:/etc", a, "/etc"},
		{"2026-11-28T22:00:00Z:etc:x", a, "/etc:x"},
		{"2026-11-28T22-00-00Z:/etc", a, "/etc"},
		{"2026-11-28T22-05-01Z_bbbb3333:/x", c, "/x"},
		{"2026-11-28T22-05-01Z:/x", b, "/x"}, // a name is exact and wins
	} {
		s, p, err := SplitSnapshotPath(all, names, tc.arg)
		if err != nil || s != tc.want || p != tc.path {
			got := "<nil>"
			if s != nil {
				got = s.ID[:8]
			}
			t.Errorf("%q: %s %q %v, want %s %q", tc.arg, got, p, err, tc.want.ID[:8], tc.path)
		}
	}
	for _, arg := range []string{"bbbb:/x", "2026-11-28T22:05:01Z:/x"} {
		if _, _, err := SplitSnapshotPath(all, names, arg); !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%q, ambiguous before the path: %v", arg, err)
		}
	}
	if _, _, err := SplitSnapshotPath(all, names, "nope:/x"); err == nil || !strings.Contains(err.Error(), `"nope:/x"`) {
		t.Errorf("no snapshot: %v", err)
	}
}

// TestLookupPath: paths resolve through trees; a missing name, and a
// name under a file, are ErrNoPath naming where.
func TestLookupPath(t *testing.T) {
	r := testRepo(t)
	ctx := t.Context()
	f := Node{Name: "f", Type: TypeFile, Mode: 0o644}
	sub, err := r.SaveTree(ctx, &Tree{Nodes: []Node{f}})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.SaveTree(ctx, &Tree{Nodes: []Node{{Name: "d", Type: TypeDir, Mode: 0o755, Subtree: sub}, {Name: "g", Type: TypeFile}}})
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Tree: root, Root: Node{Mode: 0o700}}
	for p, want := range map[string]string{"/": "/", "": "/", "/d": "d", "d/f": "f", "/d/./f": "f", "/g": "g"} {
		n, err := r.LookupPath(ctx, s, p)
		if err != nil || n.Name != want {
			t.Errorf("LookupPath(%q) = %q, %v; want %q", p, n.Name, err, want)
		}
	}
	if n, _ := r.LookupPath(ctx, s, "/"); n.Type != TypeDir || n.Subtree != root || n.Mode != 0o700 {
		t.Errorf("the root: %+v", n)
	}
	for p, where := range map[string]string{"/x": "/x:", "/d/x": "/d/x:", "/g/x": "/g is not a directory", "/d/f/x/y": "/d/f is not a directory"} {
		_, err := r.LookupPath(ctx, s, p)
		if !errors.Is(err, ErrNoPath) || !strings.HasPrefix(err.Error(), where) {
			t.Errorf("LookupPath(%q): %v, want ErrNoPath at %s", p, err, where)
		}
	}
}
