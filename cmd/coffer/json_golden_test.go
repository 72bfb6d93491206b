package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"coffer/daemon"
	"coffer/golden"
	"coffer/repo"
)

// Golden tests of the --json schemas the README documents, one per
// command: a change to a field's name or type shows in the testdata diff
// (go test ./cmd/coffer/ -run JSONGolden -update rewrites them).

var (
	hexID   = regexp.MustCompile(`\b[0-9a-f]{16,}\b`) // IDs, key slots, store keys' random parts
	rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
)

// schemaJSON rewrites out (one JSON value, or JSON lines) so that only
// what the schema promises stays: every object's fields with their types
// and stable values. IDs (in any string) become labels[id] or "ID",
// times "TIME", and the fields named in volatile (durations, text naming
// this host or today's date) become 0 or "VOLATILE". Each value prints
// indented, its keys sorted: the order of fields is no promise.
func schemaJSON(t *testing.T, out string, labels map[string]string, volatile ...string) []byte {
	t.Helper()
	var norm func(key string, v any) any
	norm = func(key string, v any) any {
		for _, k := range volatile {
			if k == key {
				switch v.(type) {
				case float64:
					return 0
				case string:
					return "VOLATILE"
				}
			}
		}
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = norm(k, e)
			}
		case []any:
			for i, e := range x {
				x[i] = norm(key, e)
			}
		case string:
			if rfc3339.MatchString(x) {
				return "TIME"
			}
			for id, l := range labels {
				x = strings.ReplaceAll(x, id, l)
			}
			return hexID.ReplaceAllString(x, "ID")
		}
		return v
	}
	var b bytes.Buffer
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		enc, err := json.MarshalIndent(norm("", v), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b.Write(enc)
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		t.Fatalf("no JSON printed: %q", out)
	}
	return b.Bytes()
}

// snapLabels names inspectRepo's snapshots in goldens.
func snapLabels(snaps []*repo.Snapshot) map[string]string {
	return map[string]string{snaps[0].ID: "SNAPSHOT-1", snaps[1].ID: "SNAPSHOT-2", snaps[2].ID: "SNAPSHOT-3"}
}

// privateCache points the commands' state directories (source IDs) at a
// temporary one, not the user's.
func privateCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// jsonGolden runs args in-process, wants want as the exit code, and
// checks the normalised stdout against testdata/name.
func jsonGolden(t *testing.T, name string, want int, labels map[string]string, volatile []string, args ...string) {
	t.Helper()
	privateCache(t)
	out, stderr, code := coffer(t, args...)
	if code != want {
		t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, stderr)
	}
	golden.Check(t, name, schemaJSON(t, out, labels, volatile...), nil)
}

// TestCheckJSONGolden: a repository without an audit log is an error; one
// with a pending request has a warning.
func TestCheckJSONGolden(t *testing.T) {
	privateCache(t)
	dir, snaps := inspectRepo(t)
	jsonGolden(t, "check-error.json", exitIncomplete, snapLabels(snaps), nil, "check", "--repo", dir, "--json", "--read-data")
	if out, stderr, code := coffer(t, "forget", "--repo", dir, snaps[0].ID); code != 0 { // starts the audit log too
		t.Fatalf("forget: exit %d\n%s%s", code, out, stderr)
	}
	jsonGolden(t, "check.json", 0, snapLabels(snaps), []string{"what"}, "check", "--repo", dir, "--json") // "what" names the due date and this host
}

func TestDoctorJSONGolden(t *testing.T) {
	dir, snaps := inspectRepo(t)
	jsonGolden(t, "doctor.json", exitError, snapLabels(snaps), []string{"detail"}, "doctor", "--repo", dir, "--json")
}

func TestKeyListJSONGolden(t *testing.T) {
	dir, snaps := inspectRepo(t)
	jsonGolden(t, "key-list.json", 0, snapLabels(snaps), nil, "key", "list", "--repo", dir, "--json")
}

// requestedRepo is inspectRepo with a deletion request for the first two
// snapshots, the second cancelled, and the third held.
func requestedRepo(t *testing.T) (string, []*repo.Snapshot, *repo.DeletionRequest) {
	t.Helper()
	dir, snaps := inspectRepo(t)
	r := openLocal(t, dir)
	ctx := context.Background()
	who := repo.Author{Source: "test", Host: "h"}
	req, err := r.RequestDeletion(ctx, who, []string{snaps[0].ID, snaps[1].ID}, "a note")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.HoldSnapshots(ctx, who, []string{snaps[2].ID}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CancelDeletion(ctx, who, req, []string{snaps[1].ID}); err != nil {
		t.Fatal(err)
	}
	return dir, snaps, req
}

func TestRequestsJSONGolden(t *testing.T) {
	dir, snaps, _ := requestedRepo(t)
	jsonGolden(t, "requests.json", 0, snapLabels(snaps), nil, "requests", "--repo", dir, "--json")
}

// TestAuditJSONGolden: the records of a doctor run and a forget, as the
// commands write them.
func TestAuditJSONGolden(t *testing.T) {
	privateCache(t)
	dir, snaps := inspectRepo(t)
	coffer(t, "doctor", "--repo", dir) // a broken promise on a local directory: exit 1, the record is written
	if out, stderr, code := coffer(t, "forget", "--repo", dir, snaps[0].ID); code != 0 {
		t.Fatalf("forget: exit %d\n%s%s", code, out, stderr)
	}
	jsonGolden(t, "audit.json", 0, snapLabels(snaps), []string{"source", "host", "version"}, "audit", "--repo", dir, "--json")
}

func TestForgetJSONGolden(t *testing.T) {
	dir, snaps := inspectRepo(t)
	jsonGolden(t, "forget.json", 0, snapLabels(snaps), []string{"time_warning", "warnings"}, "forget", "--repo", dir, "--json", "--dry-run", "--keep-last", "1")
}

func TestForgetCancelJSONGolden(t *testing.T) {
	dir, snaps, _ := requestedRepo(t)
	jsonGolden(t, "forget-cancel.json", 0, snapLabels(snaps), nil, "forget", "--repo", dir, "--json", "--cancel", snaps[0].ID)
}

func TestPruneJSONGolden(t *testing.T) {
	dir, snaps, _ := requestedRepo(t)
	jsonGolden(t, "prune.json", 0, snapLabels(snaps), []string{"why", "planning_ns"}, "prune", "--repo", dir, "--json", "--dry-run")
}

// TestSnapshotJSONGolden: snapshot --json prints the daemon's commit
// summary as one object (the daemon's side is tested in ./daemon).
func TestSnapshotJSONGolden(t *testing.T) {
	var out, errw bytes.Buffer
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reply := daemon.Reply{ID: strings.Repeat("ab", 32), Time: at, Created: true,
		Summary: &daemon.CommitSummary{ID: strings.Repeat("ab", 32), Time: at, Files: 3, Bytes: 300, Stored: 815, Took: 1500 * time.Millisecond}}
	if err := printCommit(&out, &errw, reply, true); err != nil {
		t.Fatal(err)
	}
	if errw.Len() != 0 {
		t.Errorf("snapshot --json wrote to stderr: %q", errw.String())
	}
	golden.Check(t, "snapshot.json", schemaJSON(t, out.String(), nil), nil)
}

// TestPruneRunJSONGolden: a prune that carries out a matured request
// (short delays: one second each) prints what it executed too.
func TestPruneRunJSONGolden(t *testing.T) {
	dir, snaps := inspectRepoWith(t, repo.InitOptions{Now: time.Now(),
		Deletion: repo.DeletionSettings{DelaySeconds: 1, MarginSeconds: 1, Unsafe: true}})
	r := openLocal(t, dir)
	if _, err := r.RequestDeletion(context.Background(), repo.Author{Source: "test", Host: "h"}, []string{snaps[0].ID}, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the delay, by the local store's clock
	jsonGolden(t, "prune-run.json", 0, snapLabels(snaps), []string{"ns", "planning_ns"},
		"prune", "--repo", dir, "--json", "--force", "--max-remove", "100%")
}
