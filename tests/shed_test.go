package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildWideTree makes dirs directories of files small files each under
// root, with hard links between the directories. Their times are set an
// hour back: rsync (3.5.0) leaves a directory's mtime alone when the copy's
// is in the same second as the source's, even on ext4, so a tree made just
// before it is copied would differ in its directories' nanoseconds.
func buildWideTree(t *testing.T, root string, dirs, files int) {
	t.Helper()
	defer func() {
		past := time.Now().Add(-time.Hour)
		for d := range dirs {
			must(t, os.Chtimes(filepath.Join(root, fmt.Sprintf("w%03d", d)), past, past))
		}
		must(t, os.Chtimes(root, past, past))
	}()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("w%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			p := filepath.Join(dir, fmt.Sprintf("f%04d", f))
			if err := os.WriteFile(p, fmt.Appendf(nil, "%d/%d\n", d, f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if d > 0 { // a hard link to a file of the directory before
			prev := filepath.Join(root, fmt.Sprintf("w%03d", d-1), "f0000")
			if err := os.Link(prev, filepath.Join(dir, "hard")); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// inodes maps every path under root to its inode number.
func inodes(t *testing.T, root string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out[p] = fi.Sys().(*syscall.Stat_t).Ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeadShedsFiles runs the tools that compare inode numbers (rsync -H,
// find, tar) over a head that holds far fewer files in memory than the
// tree has (--max-files-loaded): it drops and reloads directories all the
// while, and every figure the tools see must stay the same.
func TestHeadShedsFiles(t *testing.T) {
	tool(t, "rsync")
	src := filepath.Join(t.TempDir(), "src")
	buildRsyncTree(t, src, newRand(t.Name()), false)
	buildWideTree(t, filepath.Join(src, "wide"), 40, 60)
	past := time.Now().Add(-time.Hour) // see buildWideTree
	must(t, os.Chtimes(src, past, past))
	want := scanTree(t, src)

	r := newRepo(t, newBackend(t, "local"))
	// A collection after every little allocation: nodes the head shed
	// and nothing holds are gone at once, as in a big tree, instead of
	// coming back because the collector had not run yet.
	t.Setenv("GOGC", "1")
	m := r.mount(t, "-v", "--max-files-loaded", "200")
	data := filepath.Join(m.dir, "data")
	rsyncInto(t, src, data)
	compareTrees(t, "head after rsync", want, scanTree(t, data), cmpOpts{})

	// Inode numbers stay what they were while directories are dropped
	// and read again: walking the tree twice sheds it twice over.
	first := inodes(t, data)
	again := inodes(t, data)
	for p, ino := range first {
		if again[p] != ino {
			t.Errorf("%s: inode %d, then %d", p, ino, again[p])
		}
	}
	for _, args := range [][]string{
		{"find", data, "-xdev", "-printf", "%i %n %p\n"},
		{"tar", "-cf", "/dev/null", "-C", m.dir, "data"},
	} {
		res := mustRun(t, longTimeout, nil, tool(t, args[0]), args[1:]...)
		if strings.TrimSpace(res.stderr) != "" {
			t.Errorf("%s warned over the shedding head:\n%s", args[0], clip(res.stderr))
		}
	}
	res := rsyncInto(t, src, data, "--delete", "--stats")
	if !strings.Contains(res.stdout, "Number of regular files transferred: 0") {
		t.Errorf("an rsync of the unchanged tree transferred files:\n%s", res.stdout)
	}

	m.snapshot(t)
	latest := filepath.Join(m.dir, ".snapshots", "latest", "data")
	assertRsyncClean(t, "latest snapshot", src, latest)
	compareTrees(t, "latest snapshot", want, scanTree(t, latest), cmpOpts{})
	if log := m.log(); !strings.Contains(log, "trimmed the head") {
		t.Errorf("the head never shed a directory with --max-files-loaded 200; log:\n%s", clip(log))
	}
}
