package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"coffer/repo"
	"coffer/restore"
)

// countingFetch wraps r.FetchBlocks, counting the blocks asked for, and
// failing the blocks of fail (if set), as a store that went away would.
func countingFetch(r *repo.Repository, asked *atomic.Int64, fail *repo.Node) restore.FetchFunc {
	return func(ctx context.Context, wants []repo.BlockWant, fn func(int, []byte, error) error) error {
		return r.FetchBlocks(ctx, wants, func(i int, plain []byte, err error) error {
			asked.Add(1)
			if fail != nil && slices.ContainsFunc(fail.Blocks, func(b repo.BlockRef) bool { return b.ID == wants[i].ID }) {
				return fn(i, nil, errors.New("injected: the store went away"))
			}
			return fn(i, plain, err)
		})
	}
}

// TestRestoreIfChangedFinishesAnInterruptedRestore: a restore that lost
// the store half-way is incomplete; run again with --overwrite
// if-changed it fetches only what is missing or wrong and ends exact.
func TestRestoreIfChangedFinishesAnInterruptedRestore(t *testing.T) {
	r, s, root, node := sampleSnapshot(t)
	target := t.TempDir()

	var first atomic.Int64
	big, err := r.LookupPath(context.Background(), s, "/big")
	must(t, err)
	_, _, err = restoreAll(t, r, node, target, restore.Options{Fetch: countingFetch(r, &first, &big), BatchBlocks: 3})
	if !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("interrupted restore: %v, want ErrIncomplete", err)
	}
	var second atomic.Int64
	sum, problems, err := restoreAll(t, r, node, target, restore.Options{Overwrite: restore.OverwriteIfChanged,
		Fetch: countingFetch(r, &second, nil)})
	if err != nil || len(problems) > 0 {
		t.Fatalf("second restore: %v %v", err, problems)
	}
	checkNode(t, r, root, target)
	checkTree(t, r, root.Subtree, target)
	if sum.Files != 1 || sum.FilesSkipped != 11 || second.Load() != int64(len(big.Blocks)) {
		t.Errorf("second restore restored %d files, kept %d and fetched %d blocks (first asked for %d): "+
			"want only big's %d blocks fetched again, the 8 other files and 3 other entries kept",
			sum.Files, sum.FilesSkipped, second.Load(), first.Load(), len(big.Blocks))
	}

	// Nothing left to do: no block is fetched at all.
	var third atomic.Int64
	if _, _, err := restoreAll(t, r, node, target, restore.Options{Overwrite: restore.OverwriteIfChanged,
		Fetch: countingFetch(r, &third, nil)}); err != nil {
		t.Fatal(err)
	}
	if third.Load() != 0 {
		t.Errorf("restore over a complete copy fetched %d blocks, want none", third.Load())
	}
}

// TestRestoreOverwriteModes: a file changed in place (same size, other
// bytes; and another with a stray xattr and mode) is rewritten by always
// and if-changed, and left alone by never.
func TestRestoreOverwriteModes(t *testing.T) {
	r, _, root, node := sampleSnapshot(t)
	for _, mode := range []restore.Overwrite{restore.OverwriteAlways, restore.OverwriteIfChanged, restore.OverwriteNever} {
		t.Run(mode.String(), func(t *testing.T) {
			target := t.TempDir()
			if _, p, err := restoreAll(t, r, node, target, restore.Options{}); err != nil || len(p) > 0 {
				t.Fatal(err, p)
			}
			big := filepath.Join(target, "big")
			changed := randData(700_000)
			must(t, os.WriteFile(big, changed, 0o644))
			suid := filepath.Join(target, "suid")
			must(t, os.Chmod(suid, 0o600))
			must(t, unix.Setxattr(suid, "user.stray", []byte("x"), 0))
			var asked atomic.Int64
			sum, p, err := restoreAll(t, r, node, target, restore.Options{Overwrite: mode, Fetch: countingFetch(r, &asked, nil)})
			if err != nil || len(p) > 0 {
				t.Fatal(err, p)
			}
			switch mode {
			case restore.OverwriteNever:
				got, _ := os.ReadFile(big)
				if string(got) != string(changed) {
					t.Error("never: the file already there was overwritten")
				}
				if asked.Load() != 0 || sum.Files != 0 {
					t.Errorf("never: fetched %d blocks, restored %d files; want none", asked.Load(), sum.Files)
				}
			default:
				checkTree(t, r, root.Subtree, target)
				if _, err := unix.Getxattr(suid, "user.stray", nil); err == nil {
					t.Error("an xattr the snapshot does not have was kept")
				}
				if mode == restore.OverwriteIfChanged && sum.Files != 1 {
					t.Errorf("if-changed restored %d files, want only the changed one", sum.Files)
				}
			}
		})
	}
}

// TestRestoreDryRunWritesNothing counts without writing.
func TestRestoreDryRunWritesNothing(t *testing.T) {
	r, _, root, node := sampleSnapshot(t)
	target := filepath.Join(t.TempDir(), "none")
	sum, p, err := restoreAll(t, r, node, target, restore.Options{DryRun: true})
	if err != nil || len(p) > 0 {
		t.Fatal(err, p)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("dry run made the target: %v", err)
	}
	if sum.Files != 9 || sum.Dirs != 3 || sum.Bytes != int64(root.Bytes) {
		t.Errorf("dry run counted %+v; want 9 files, 3 dirs, %d bytes", sum.Counts, root.Bytes)
	}
}
