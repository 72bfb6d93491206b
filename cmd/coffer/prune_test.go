package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// refusingStore is a store whose credentials may not delete versions, as
// a server's are on S3.
type refusingStore struct{ *memory.Store }

func (refusingStore) CanDeleteVersions(context.Context) (bool, error) { return false, nil }

// TestPruneStopsOnServerCredentials: with credentials that may not
// delete, prune stops with exit 5 and a one-line message naming what to
// use instead; credentials that may delete pass.
func TestPruneStopsOnServerCredentials(t *testing.T) {
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	err := canDelete(cmd, refusingStore{memory.New(time.Now)})
	if err == nil || exitCode(err) != exitUnreachable {
		t.Fatalf("server credentials: %v (exit %d), want exit %d", err, exitCode(err), exitUnreachable)
	}
	if msg := describe(err); !strings.Contains(msg, "--admin-profile") || strings.Contains(msg, "\n") {
		t.Fatalf("message %q: want one line naming --admin-profile", msg)
	}
	var st objectstore.Store = memory.New(time.Now)
	if err := canDelete(cmd, st); err != nil {
		t.Fatalf("memory store: %v", err)
	}
}

// TestPruneCommandOnALocalRepository: dry run and run of an empty
// repository exit 0, --json is one object, a bad share is exit 2.
func TestPruneCommandOnALocalRepository(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	env := []string{"COFFER_PASSWORD=pw", "HOME=" + dir}
	repoDir := dir + "/r"
	if r := run(t, bin, env, "init", "--repo", repoDir, "--deletion-delay", "2s", "--prune-margin", "1s", "--unsafe-short-delays"); r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	if r := run(t, bin, env, "prune", "--repo", repoDir, "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "dry run: nothing was changed") {
		t.Fatalf("dry run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, bin, env, "prune", "--repo", repoDir, "--json"); r.code != 0 || !strings.HasPrefix(r.stdout, "{") || strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Fatalf("json: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, bin, env, "prune", "--repo", repoDir, "--max-unused", "150%"); r.code != exitUsage || !strings.HasPrefix(r.stderr, "coffer: --max-unused") {
		t.Fatalf("bad share: %d %q", r.code, r.stderr)
	}
}
