package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestListSnapshotMount: a fresh `coffer mount --snapshot latest` of a tree
// without extended attributes lists like the tree it holds (find, ls -lR),
// cp -a copies it whole, and the kernel sends the mount what listing and
// reading need only: no handles (one OPENDIR and one OPEN, answered
// ENOSYS, and no RELEASEDIR or RELEASE), and, once the mount has read its
// trees and found no extended attribute, no getxattr (ls -l would ask two
// per entry), as the request counts the daemon writes at exit show.
func TestListSnapshotMount(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	rng := newRand(t.Name())
	entries := 0
	for d := range 12 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d), "sub")
		mkdirs(t, src, dir[len(src)+1:])
		entries += 2
		for i := range 10 {
			writeRandomFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), int64(10+i*100), rng)
			entries++
		}
	}
	r := newRepo(t, newBackend(t, "local"))
	m := r.mount(t)
	rsyncInto(t, src, filepath.Join(m.dir, "data"))
	m.snapshot(t)
	m.umount(t)

	countsFile := filepath.Join(t.TempDir(), "counts.json")
	t.Setenv("COFFER_FUSE_COUNTS", countsFile)
	ro := r.mount(t, "--snapshot", "latest")
	data := filepath.Join(ro.dir, "data")
	want, got := scanTree(t, src), scanTree(t, data)
	for p, e := range want { // directory mtimes: see TestCopyOutOfSnapshotMount
		if e.typ == fs.ModeDir && got[p] != nil {
			e.mtime = got[p].mtime
		}
	}
	compareTrees(t, "a listing of the snapshot mount", want, got, cmpOpts{})
	// The mount reads its trees in the background once first listed.
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err = unix.Lgetxattr(filepath.Join(data, "d00"), "user.none", make([]byte, 8)); errors.Is(err, syscall.ENOTSUP) {
			break
		}
	}
	if !errors.Is(err, syscall.ENOTSUP) {
		t.Fatalf("getxattr on a snapshot without extended attributes: %v, want ENOTSUP once its trees were read", err)
	}
	if out := mustRun(t, shortTimeout, nil, "ls", "-lR", data); len(out.stdout) == 0 {
		t.Error("ls -lR printed nothing")
	}
	out := filepath.Join(t.TempDir(), "out")
	mustRun(t, shortTimeout, nil, "cp", "-a", data, out)
	compareTrees(t, "cp -a out of the snapshot mount", want, scanTree(t, out), cmpOpts{})
	ro.umount(t)

	raw, err := os.ReadFile(countsFile)
	if err != nil {
		t.Fatalf("request counts: %v", err)
	}
	var counts map[string]int
	if err := json.Unmarshal(raw, &counts); err != nil {
		t.Fatalf("request counts %s: %v", raw, err)
	}
	if counts["opendir"] != 1 || counts["releasedir"] != 0 {
		t.Errorf("directory handles: %d OPENDIR (want 1), %d RELEASEDIR (want 0): %s", counts["opendir"], counts["releasedir"], raw)
	}
	if counts["open"] != 1 || counts["release"] != 0 {
		t.Errorf("file handles: %d OPEN (want 1), %d RELEASE (want 0): %s", counts["open"], counts["release"], raw)
	}
	// Only the scan's getxattrs of the polls above reach the daemon;
	// ls -lR alone would have sent two per entry.
	if counts["getxattr"] >= entries {
		t.Errorf("%d GETXATTR for %d entries listed twice: %s", counts["getxattr"], entries, raw)
	}
}
