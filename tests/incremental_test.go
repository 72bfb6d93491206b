package tests

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIncrementalSnapshots applies the same rounds of changes to a plain
// directory and to the head, snapshots after each round, and checks every
// snapshot against the plain directory as it was then. Commits store only
// the directories that changed, so this checks that no kind of change
// (rename across directories, rename over a file, directory renames, hard
// links added and removed, chmod and xattrs deep in the tree, deletes) is
// left out of a later snapshot, and that earlier snapshots stay as they
// were.
func TestIncrementalSnapshots(t *testing.T) {
	tool(t, "setfattr")
	rounds := []string{
		`mkdir -p a/b/c d/e && echo one > a/b/c/f && echo two > d/e/g && ln a/b/c/f d/hl && ln -s ../d a/sym && echo three > top`,
		`mv a/b/c d/c && chmod 700 a && setfattr -n user.k -v v1 d/c/f && ln d/e/g a/g2 && echo four > d/e/h`,
		`rm d/hl && mv d a/d2 && echo new > a/b/new && mv a/b/new top && setfattr -n user.k -v v2 a/d2/e/g && rmdir a/b`,
		`true`,
		`rm a/g2`,
		`mkdir -p x/y/z && echo deep > x/y/z/f && mv x/y/z/f x/f && rm -r x/y && chmod 0604 top`,
	}
	forEachBackend(t, func(t *testing.T, be *backend) {
		plain := filepath.Join(t.TempDir(), "plain")
		must(t, os.MkdirAll(plain, 0o755))
		r := newRepo(t, be)
		m := r.mount(t)
		head := filepath.Join(m.dir, "h")
		must(t, os.MkdirAll(head, 0o755))

		base := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		var snaps []string
		var wants []manifest
		for i, script := range rounds {
			for _, dir := range []string{plain, head} {
				res := sh(t, shortTimeout, "cd '"+dir+"' && "+script)
				if res.err != nil {
					t.Fatalf("round %d in %s: %v", i, dir, res)
				}
				setTimesBottomUp(t, dir, base.Add(time.Duration(i)*24*time.Hour))
			}
			want := scanTree(t, plain)
			compareTrees(t, "head", want, scanTree(t, head), cmpOpts{})
			before := snapshotDirs(t, m.dir)
			time.Sleep(1100 * time.Millisecond) // one snapshot name per second
			m.snapshot(t)
			snaps = append(snaps, newSnapshotDir(t, m.dir, before))
			wants = append(wants, want)
			latest := filepath.Join(m.dir, ".snapshots", "latest", "h")
			compareTrees(t, "latest snapshot after round", want, scanTree(t, latest), cmpOpts{})
		}
		for i, s := range snaps {
			compareTrees(t, "snapshot "+s, wants[i], scanTree(t, filepath.Join(m.dir, ".snapshots", s, "h")), cmpOpts{})
		}
		// A new daemon sees the same head.
		m.umount(t)
		m2 := r.mount(t)
		compareTrees(t, "head after remount", wants[len(wants)-1], scanTree(t, filepath.Join(m2.dir, "h")), cmpOpts{})
	})
}
