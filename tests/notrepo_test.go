package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNotARepositoryLeftUntouched points commands at an empty directory
// that is no repository: each fails (exit 4, no repository) and the
// directory stays empty.
func TestNotARepositoryLeftUntouched(t *testing.T) {
	be := newBackend(t, "local")
	r := newKeyedRepo(t, be)
	mnt := filepath.Join(t.TempDir(), "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	for _, args := range [][]string{
		append([]string{"snapshots"}, r.repoArgs()...),
		append(append([]string{"mount"}, r.repoArgs()...), mnt),
	} {
		res := r.coffer(t, shortTimeout, args...)
		if res.exitCode() != 4 {
			t.Errorf("coffer %s: exit %d, want 4 (no repository): %v", args[0], res.exitCode(), res)
		}
		ents, err := os.ReadDir(be.repoURL)
		must(t, err)
		for _, e := range ents {
			t.Errorf("coffer %s created %s in a directory that is not a repository", args[0], e.Name())
		}
	}
}
