package inspect

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"coffer/cipher"
	"coffer/golden"
	"coffer/repo"
)

// countingTrees records which trees a diff reads.
type countingTrees struct {
	r    *repo.Repository
	mu   sync.Mutex
	read map[cipher.ID]int
}

func (c *countingTrees) LoadTree(ctx context.Context, id cipher.ID) (*repo.Tree, error) {
	c.mu.Lock()
	c.read[id]++
	c.mu.Unlock()
	return c.r.LoadTree(ctx, id)
}

func diffLines(t *testing.T, trees TreeLoader, a, b *repo.Snapshot) ([]string, []Change, DiffStats) {
	t.Helper()
	var lines []string
	var changes []Change
	st, err := Diff(context.Background(), trees, a, b, nil, func(c Change) error {
		lines = append(lines, c.Line())
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines, changes, st
}

func changedTree() spec {
	sp := sampleTree()
	sp["etc"] = spec{"hosts": "127.0.0.1 localhost\n::1 localhost\n", // content
		"motd": repo.Node{Type: repo.TypeFile, Mode: 0o600, UID: 1000, GID: 1000, Mtime: t0.UnixNano()}} // mode only... and content (empty)
	delete(sp, "tool")
	sp["new"] = spec{"a": "A", "sub": spec{"b": "B"}}
	sp["bin"] = spec{} // was a symlink
	sp["null"] = dev(1<<8 | 5)
	return sp
}

func TestDiff(t *testing.T) {
	r, _ := testRepo(t)
	a := commit(t, r, sampleTree(), t0, nil)
	sp := changedTree()
	sp["etc"].(spec)["motd"] = "hello\n"
	b := commit(t, r, sp, t0.Add(3600e9), a)
	trees := &countingTrees{r: r, read: map[cipher.ID]int{}}
	lines, _, st := diffLines(t, trees, a, b)
	want := []string{
		"U    /  (mtime)",
		"-    /bin",
		"+    /bin/",
		"M    /etc/hosts  (content)",
		"+    /new/",
		"+    /new/a",
		"+    /new/sub/",
		"+    /new/sub/b",
		"M    /null  (device)",
		"-    /tool",
	}
	if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if st.Added.Files != 2 || st.Added.Dirs != 3 || st.Added.Bytes != 2 || st.Removed.Others != 1 ||
		st.Removed.Files != 1 || st.Changed != 2 || st.Metadata != 1 {
		t.Errorf("stats %+v", st)
	}
	// /srv is the same tree in both: never read. (/bin/ is the empty
	// tree /srv/empty1 shares, read as an added directory.)
	srv, err := r.LookupPath(context.Background(), a, "/srv")
	if err != nil {
		t.Fatal(err)
	}
	if n := trees.read[srv.Subtree]; n != 0 {
		t.Errorf("the unchanged /srv tree was read %d times", n)
	}
	if len(trees.read) != 7 { // both roots, both /etc, /new, /new/sub, and /bin's empty tree
		t.Errorf("read %d trees, want 7: %v", len(trees.read), trees.read)
	}
}

// TestDiffEqual: two snapshots of the same tree differ in nothing and
// cost no tree read.
func TestDiffEqual(t *testing.T) {
	r, _ := testRepo(t)
	a := commit(t, r, sampleTree(), t0, nil)
	b := commit(t, r, sampleTree(), t0, a)
	trees := &countingTrees{r: r, read: map[cipher.ID]int{}}
	lines, _, _ := diffLines(t, trees, a, b)
	if len(lines) != 0 || len(trees.read) != 0 {
		t.Errorf("diff of equal snapshots: %v, read %d trees", lines, len(trees.read))
	}
}

func TestDiffMetadataOnly(t *testing.T) {
	r, _ := testRepo(t)
	a := commit(t, r, spec{"f": "data"}, t0, nil)
	ctx := context.Background()
	f, err := r.LookupPath(ctx, a, "/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Mode, f.UID, f.Xattrs = 0o600, 0, []repo.Xattr{{Name: "user.x", Value: []byte("1")}}
	b := commit(t, r, spec{"f": f}, t0, a)
	lines, changes, st := diffLines(t, r, a, b)
	if len(lines) != 1 || lines[0] != "U    /f  (mode, owner, xattrs)" || st.Metadata != 1 || st.Changed != 0 {
		t.Errorf("diff: %v %+v", lines, st)
	}
	if len(changes) == 1 && (changes[0].Old.Mode != 0o644 || changes[0].New.Mode != 0o600) {
		t.Errorf("change carries the wrong nodes: %+v", changes[0])
	}
}

func TestDiffJSONGolden(t *testing.T) {
	r, _ := testRepo(t)
	a := commit(t, r, sampleTree(), t0, nil)
	b := commit(t, r, changedTree(), t0.Add(3600e9), a)
	_, changes, st := diffLines(t, r, a, b)
	var vs []any
	for _, c := range changes {
		vs = append(vs, c.JSON())
	}
	vs = append(vs, StatsJSON{MessageType: "statistics", From: a.ID, To: b.ID, DiffStats: st})
	golden.Check(t, "diff.jsonl", jsonLines(t, vs...), map[string]string{a.ID: "SNAPSHOT-A", b.ID: "SNAPSHOT-B"})
}

// TestDiffDamage: a directory whose tree is missing on one side is
// handed to onDamage, and the diff goes on with the rest; without
// onDamage it is the diff's error.
func TestDiffDamage(t *testing.T) {
	r, _ := testRepo(t)
	var ghost cipher.ID
	ghost[0] = 9
	a := commit(t, r, spec{"d": spec{"x": "1"}, "e": "old"}, t0, nil)
	b := commit(t, r, spec{"d": repo.Node{Type: repo.TypeDir, Mode: 0o755, UID: 1000, GID: 1000, Mtime: t0.UnixNano(), Subtree: ghost}, "e": "new"}, t0, a)
	var damaged []string
	var lines []string
	_, err := Diff(context.Background(), r, a, b, func(p string, err error) error {
		if !errors.Is(err, repo.ErrMissingBlock) {
			t.Errorf("damage at %s: %v", p, err)
		}
		damaged = append(damaged, p)
		return nil
	}, func(c Change) error {
		lines = append(lines, c.Line())
		return nil
	})
	if err != nil || strings.Join(damaged, " ") != "/d" || strings.Join(lines, "|") != "M    /e  (content)" {
		t.Errorf("diff with a missing tree: %v, damage %v, lines %v", err, damaged, lines)
	}
	if _, err := Diff(context.Background(), r, a, b, nil, func(Change) error { return nil }); !errors.Is(err, repo.ErrMissingBlock) ||
		!strings.Contains(err.Error(), "/d in the second snapshot") {
		t.Errorf("diff without onDamage: %v", err)
	}
}

// TestDiffNodes: a diff of one path compares only what is at and beneath
// it; a path only one side has is added or removed whole.
func TestDiffNodes(t *testing.T) {
	r, _ := testRepo(t)
	ctx := context.Background()
	a := commit(t, r, sampleTree(), t0, nil)
	b := commit(t, r, changedTree(), t0.Add(3600e9), a)
	at := func(s *repo.Snapshot, p string) *repo.Node {
		n, err := r.LookupPath(ctx, s, p)
		if errors.Is(err, repo.ErrNoPath) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return &n
	}
	for p, want := range map[string]string{
		"/etc":       "M    /etc/hosts  (content)|M    /etc/motd  (content, mode)",
		"/etc/hosts": "M    /etc/hosts  (content)",
		"/new":       "+    /new/|+    /new/a|+    /new/sub/|+    /new/sub/b",
		"/tool":      "-    /tool",
		"/srv":       "",
	} {
		var lines []string
		if _, err := DiffNodes(ctx, r, p, at(a, p), at(b, p), nil, func(c Change) error {
			lines = append(lines, c.Line())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(lines, "|"); got != want {
			t.Errorf("diff of %s:\n%s\nwant:\n%s", p, got, want)
		}
	}
}
