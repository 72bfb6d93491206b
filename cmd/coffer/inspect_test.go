package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/golden"
	"coffer/objectstore/local"
	"coffer/repo"
)

// inspectRepo makes a local repository with three snapshots at fixed
// times (the second tagged, the third from another host) and returns
// its directory and the snapshots. COFFER_PASSWORD opens it.
func inspectRepo(t *testing.T) (string, []*repo.Snapshot) {
	t.Helper()
	return inspectRepoWith(t, repo.InitOptions{Now: time.Now()})
}

// inspectRepoWith is inspectRepo with these init options.
func inspectRepoWith(t *testing.T, opts repo.InitOptions) (string, []*repo.Snapshot) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := local.New(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret := repo.Secret{Passphrase: []byte("pw"), KDF: cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}}
	if _, err := repo.Init(ctx, st, secret, opts); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, secret, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Setenv("COFFER_PASSWORD", "pw")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var snaps []*repo.Snapshot
	for i, files := range [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}} {
		tr := &repo.Tree{}
		var size uint64
		for _, name := range files {
			w := r.NewFileWriter()
			data := []byte(strings.Repeat(name, 100))
			if err := w.WriteAt(ctx, data, 0); err != nil {
				t.Fatal(err)
			}
			blocks, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tr.Nodes = append(tr.Nodes, repo.Node{Name: name, Type: repo.TypeFile, Mode: 0o644, Size: 100,
				Mtime: t0.UnixNano(), Blocks: blocks})
			size += 100
		}
		id, err := r.SaveTree(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		s := &repo.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour), Host: "db1", Tree: id,
			Files: uint64(len(files)), Size: size, Root: repo.Node{Type: repo.TypeDir, Mode: 0o755}}
		if i == 1 {
			s.Tags = []string{"daily", "db"}
		}
		if i == 2 {
			s.Host = "web1"
		}
		if i > 0 {
			s.Parent = snaps[i-1].ID
		}
		if err := r.SaveSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	return dir, snaps
}

// coffer runs the command line in-process and returns its stdout, its
// stderr and its exit code.
func coffer(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		errb.WriteString("coffer: " + describe(err) + "\n")
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}

func TestSnapshotsJSONGolden(t *testing.T) {
	dir, snaps := inspectRepo(t)
	out, stderr, code := coffer(t, "snapshots", "--repo", dir, "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden.Check(t, "snapshots.json", []byte(out), map[string]string{snaps[0].ID: "SNAPSHOT-1", snaps[1].ID: "SNAPSHOT-2", snaps[2].ID: "SNAPSHOT-3"})
}

// TestFilters: --tag, --host and --latest pick the same snapshots in
// snapshots, ls and stats.
func TestFilters(t *testing.T) {
	dir, snaps := inspectRepo(t)
	ids := func(out string) string {
		var list []snapshotJSON
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.ID)
		}
		return strings.Join(got, ",")
	}
	for _, c := range []struct {
		args []string
		want []*repo.Snapshot
	}{
		{nil, snaps},
		{[]string{"--tag", "daily"}, snaps[1:2]},
		{[]string{"--tag", "daily,db"}, snaps[1:2]},
		{[]string{"--tag", "daily,nope"}, nil},
		{[]string{"--tag", "nope", "--tag", "db"}, snaps[1:2]},
		{[]string{"--host", "db1"}, snaps[:2]},
		{[]string{"--host", "db1", "--host", "web1", "--latest", "2"}, snaps[1:]},
		{[]string{"--latest", "1"}, snaps[2:]},
	} {
		var want []string
		for _, s := range c.want {
			want = append(want, s.ID)
		}
		out, stderr, code := coffer(t, append([]string{"snapshots", "--repo", dir, "--json"}, c.args...)...)
		if c.want == nil {
			if code != exitNoRepo || !strings.Contains(stderr, "no snapshot matches --tag daily,nope") {
				t.Errorf("snapshots %v: exit %d, %s", c.args, code, stderr)
			}
			continue
		}
		if code != 0 || ids(out) != strings.Join(want, ",") {
			t.Errorf("snapshots %v: exit %d, %s, want %v", c.args, code, out+stderr, want)
		}
		// ls picks latest among the same; stats counts the same.
		out, stderr, code = coffer(t, append([]string{"ls", "--repo", dir, "latest"}, c.args...)...)
		wantLs := []string{"/a\n", "/a\n/b\n", "/a\n/b\n/c\n"}[slices.Index(snaps, c.want[len(c.want)-1])]
		if code != 0 || out != wantLs {
			t.Errorf("ls %v latest: exit %d, %q, want %q", c.args, code, out+stderr, wantLs)
		}
		out, _, code = coffer(t, append([]string{"stats", "--repo", dir, "--json"}, c.args...)...)
		var st struct{ Snapshots int }
		if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || st.Snapshots != len(c.want) {
			t.Errorf("stats %v: exit %d, %d snapshots, want %d", c.args, code, st.Snapshots, len(c.want))
		}
	}
	if _, stderr, code := coffer(t, "snapshots", "--repo", dir, "--latest", "-1"); code != exitUsage {
		t.Errorf("--latest -1: exit %d, %s", code, stderr)
	}
}

// openLocal opens the repository inspectRepo made.
func openLocal(t *testing.T, dir string) *repo.Repository {
	t.Helper()
	st, err := local.New(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), st, repo.Secret{Passphrase: []byte("pw")}, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestSnapshotsPendingDeletion: a snapshot a deletion request names shows
// its due date, a held one says so, and one warning line counts them; a
// cancelled request shows nothing.
func TestSnapshotsPendingDeletion(t *testing.T) {
	dir, _, req := requestedRepo(t)
	out, stderr, code := coffer(t, "snapshots", "--repo", dir, "--json")
	var list []snapshotJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 3 {
		t.Fatalf("exit %d, %v: %s%s", code, err, out, stderr)
	}
	due := req.Due.UTC().Format(time.RFC3339)
	if list[0].DeletionDue == nil || *list[0].DeletionDue != due || list[1].DeletionDue != nil || list[2].DeletionDue != nil {
		t.Errorf("deletion_due: %s, want %s on the first only", out, due)
	}
	if list[0].Held || list[1].Held || !list[2].Held {
		t.Errorf("held: %s, want the third only", out)
	}
	if want := "coffer: warning: deletion requested for 1 snapshot(s), the first due " + due; !strings.HasPrefix(stderr, want) ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line starting %q", stderr, want)
	}
	out, _, _ = coffer(t, "snapshots", "--repo", dir)
	lines := strings.Split(out, "\n")
	if !strings.HasSuffix(lines[1], "deletion requested, due "+due) || !strings.HasSuffix(lines[3], "held") ||
		strings.Contains(lines[2], "deletion") {
		t.Errorf("table:\n%s", out)
	}
}

// TestStatsIncomplete: a tree that cannot be read is a warning naming it
// and exit 7, after the figures (stats) or the rest (ls, diff).
func TestStatsIncomplete(t *testing.T) {
	dir, snaps := inspectRepo(t)
	r := openLocal(t, dir)
	ctx := context.Background()
	var ghost cipher.ID
	ghost[0] = 7
	tree, err := r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{{Name: "gone", Type: repo.TypeDir, Mode: 0o755, Subtree: ghost}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Now(), Host: "db1", Tree: tree}); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := coffer(t, "stats", "--repo", dir)
	if code != exitIncomplete || !strings.Contains(stderr, ghost.String()) || !strings.Contains(out, "Deduplication:") {
		t.Errorf("stats with an unreadable tree: exit %d\n%s%s", code, out, stderr)
	}
	// ls and diff name it, go on with the rest, and exit 7 too.
	out, stderr, code = coffer(t, "ls", "--repo", dir, "-R", "latest")
	if code != exitIncomplete || out != "/gone\n" || !strings.Contains(stderr, "/gone: block "+ghost.String()) {
		t.Errorf("ls -R with an unreadable tree: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = coffer(t, "diff", "--repo", dir, snaps[2].ID, "latest")
	if code != exitIncomplete || !strings.Contains(out, "-    /a\n") || !strings.Contains(stderr, "/gone in the second snapshot") {
		t.Errorf("diff with an unreadable tree: exit %d\n%s%s", code, out, stderr)
	}
}
