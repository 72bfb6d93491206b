package inspect

import (
	"context"
	"errors"
	"strings"
	"testing"

	"coffer/cipher"
	"coffer/golden"
	"coffer/objectstore"
	"coffer/repo"
)

func sampleTree() spec {
	return spec{
		"etc": spec{"hosts": "127.0.0.1 localhost\n", "motd": "hello\n"},
		"srv": spec{
			"empty1": spec{}, "empty2": spec{}, // one tree ID, both listed
			"data.bin": strings.Repeat("x", 1000),
		},
		"bin":  link("usr/bin"),
		"null": dev(1<<8 | 3),
		"tool": repo.Node{Type: repo.TypeFile, Mode: 0o4755, UID: 0, GID: 0, Mtime: t0.UnixNano()},
	}
}

func listing(t *testing.T, r *repo.Repository, s *repo.Snapshot, p string, recursive bool) []Entry {
	t.Helper()
	var out []Entry
	if err := List(context.Background(), r, s, p, ListOptions{Recursive: recursive}, func(e Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func paths(es []Entry) string {
	var ps []string
	for _, e := range es {
		ps = append(ps, e.Path)
	}
	return strings.Join(ps, " ")
}

func TestList(t *testing.T) {
	r, _ := testRepo(t)
	s := commit(t, r, sampleTree(), t0, nil)
	for _, c := range []struct {
		path      string
		recursive bool
		want      string
	}{
		{"/", false, "/bin /etc /null /srv /tool"},
		{"", true, "/bin /etc /etc/hosts /etc/motd /null /srv /srv/data.bin /srv/empty1 /srv/empty2 /tool"},
		{"srv", false, "/srv/data.bin /srv/empty1 /srv/empty2"},
		{"/etc/hosts", false, "/etc/hosts"},
		{"/srv/", true, "/srv/data.bin /srv/empty1 /srv/empty2"},
	} {
		if got := paths(listing(t, r, s, c.path, c.recursive)); got != c.want {
			t.Errorf("ls %q recursive=%v = %s, want %s", c.path, c.recursive, got, c.want)
		}
	}
	for _, missing := range []string{"/nope", "/etc/hosts/x", "/srv/nope/deeper"} {
		err := List(context.Background(), r, s, missing, ListOptions{}, func(Entry) error { return nil })
		if !errors.Is(err, repo.ErrNoPath) || !errors.Is(err, objectstore.ErrNotFound) {
			t.Errorf("ls %s: %v, want ErrNoPath", missing, err)
		}
	}
}

func TestListLong(t *testing.T) {
	r, _ := testRepo(t)
	s := commit(t, r, sampleTree(), t0, nil)
	var lines []string
	for _, e := range listing(t, r, s, "/", false) {
		lines = append(lines, e.Long())
	}
	want := []string{
		"lrwxrwxrwx   1  1000  1000            7 2026-01-02 03:04:05 /bin -> usr/bin",
		"drwxr-xr-x   1  1000  1000            0 2026-01-02 03:04:05 /etc",
		"crw-r--r--   1  1000  1000         1, 3 2026-01-02 03:04:05 /null",
		"drwxr-xr-x   1  1000  1000            0 2026-01-02 03:04:05 /srv",
		"-rwsr-xr-x   1     0     0            0 2026-01-02 03:04:05 /tool",
	}
	if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("ls -l:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestListJSONGolden(t *testing.T) {
	r, _ := testRepo(t)
	s := commit(t, r, sampleTree(), t0, nil)
	var vs []any
	for _, e := range listing(t, r, s, "/", true) {
		vs = append(vs, e.JSON())
	}
	golden.Check(t, "ls.jsonl", jsonLines(t, vs...), nil)
}

// TestListHardLinks: the link count comes from the snapshot's link table.
func TestListHardLinks(t *testing.T) {
	r, _ := testRepo(t)
	ctx := context.Background()
	lt, err := r.SaveLinks(ctx, repo.LinkTable{7: 2})
	if err != nil {
		t.Fatal(err)
	}
	id, files, size := saveDir(t, r, spec{
		"a": repo.Node{Type: repo.TypeFile, Mode: 0o644, Link: 7},
		"b": repo.Node{Type: repo.TypeFile, Mode: 0o644, Link: 7},
		"c": "plain",
	})
	s := &repo.Snapshot{Time: t0, Host: "h", Tree: id, Links: lt, Files: files, Size: size}
	if err := r.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	var counts []uint32
	for _, e := range listing(t, r, s, "/", false) {
		counts = append(counts, e.Links)
	}
	if len(counts) != 3 || counts[0] != 2 || counts[1] != 2 || counts[2] != 1 {
		t.Errorf("link counts %v, want [2 2 1]", counts)
	}
}

func TestPermissions(t *testing.T) {
	for _, c := range []struct {
		t    repo.NodeType
		mode uint32
		want string
	}{
		{repo.TypeFile, 0o644, "-rw-r--r--"},
		{repo.TypeDir, 0o1777, "drwxrwxrwt"},
		{repo.TypeDir, 0o1770, "drwxrwx--T"},
		{repo.TypeFile, 0o2644, "-rw-r-Sr--"},
		{repo.TypeFile, 0o6755, "-rwsr-sr-x"},
		{repo.TypeFIFO, 0o600, "prw-------"},
		{repo.TypeSocket, 0o755, "srwxr-xr-x"},
		{repo.TypeBlock, 0o660, "brw-rw----"},
	} {
		if got := Permissions(c.t, c.mode); got != c.want {
			t.Errorf("Permissions(%s, %o) = %s, want %s", c.t, c.mode, got, c.want)
		}
	}
}

// TestListDamage: a directory whose tree is missing is handed to
// OnDamage and the listing goes on; without OnDamage it ends there.
func TestListDamage(t *testing.T) {
	r, _ := testRepo(t)
	var ghost cipher.ID
	ghost[0] = 9
	s := commit(t, r, spec{"a": "1", "d": repo.Node{Type: repo.TypeDir, Mode: 0o755, Subtree: ghost}, "z": spec{"y": "2"}}, t0, nil)
	var damaged, got []string
	err := List(context.Background(), r, s, "/", ListOptions{Recursive: true, OnDamage: func(p string, err error) error {
		damaged = append(damaged, p)
		return nil
	}}, func(e Entry) error {
		got = append(got, e.Path)
		return nil
	})
	if err != nil || strings.Join(damaged, " ") != "/d" || strings.Join(got, " ") != "/a /d /z /z/y" {
		t.Errorf("ls with a missing tree: %v, damage %v, listed %v", err, damaged, got)
	}
	err = List(context.Background(), r, s, "/", ListOptions{Recursive: true}, func(Entry) error { return nil })
	if !errors.Is(err, repo.ErrMissingBlock) || !strings.HasPrefix(err.Error(), "/d: ") {
		t.Errorf("ls without OnDamage: %v", err)
	}
}
