package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildRestoreTree is the rsync tree (every size boundary, symlinks, hard
// links, odd modes and owners, nanosecond times, xattrs) plus POSIX ACLs
// and a sparse file.
func buildRestoreTree(t *testing.T, root string) {
	t.Helper()
	buildRsyncTree(t, root, newRand(t.Name()), false)
	sparse := filepath.Join(root, "files", "sparse")
	f, err := os.Create(sparse)
	must(t, err)
	_, err = f.WriteAt([]byte("an island in a sea of holes"), 5*mib)
	must(t, err)
	must(t, f.Truncate(9*mib))
	must(t, f.Close())
	shIn(t, root, `setfacl -m u:1234:rwx,g:2345:r files/b4096 && setfacl -m u:1234:rx -d -m u:1234:rwx,g::rx xattrdir`)
	setTimesBottomUp(t, root, time.Date(1990, 5, 17, 3, 4, 5, 0, time.UTC))
}

// restoreSummary is the summary line of `coffer restore --json`.
type restoreSummary struct {
	Type         string `json:"message_type"`
	Files        int64  `json:"files_restored"`
	FilesSkipped int64  `json:"files_skipped"`
	Errors       int64  `json:"errors"`
}

func lastSummary(t *testing.T, stdout string) restoreSummary {
	t.Helper()
	var s restoreSummary
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var line restoreSummary
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("restore --json printed a line that is not JSON: %q: %v", sc.Text(), err)
		}
		if line.Type == "summary" {
			s = line
		}
	}
	if s.Type == "" {
		t.Fatalf("restore --json printed no summary:\n%s", stdout)
	}
	return s
}

// TestRestore makes two snapshots through a mount, unmounts, and then,
// with no FUSE mount at all, restores with `coffer restore` and compares
// every byte and every piece of metadata: into an empty directory, over
// a partly restored and damaged copy (--overwrite if-changed), with
// --include and --exclude, and from --as-of a time between the
// snapshots; `coffer dump` writes a file and a tar archive that GNU tar
// extracts exactly.
func TestRestore(t *testing.T) {
	tool(t, "rsync")
	tool(t, "setfacl")
	forEachBackend(t, func(t *testing.T, be *backend) {
		src := filepath.Join(t.TempDir(), "src")
		buildRestoreTree(t, src)
		want := scanTree(t, src)
		r := newRepo(t, be)
		m := r.mount(t)
		rsyncInto(t, src, filepath.Join(m.dir, "data"))
		m.snapshot(t)
		time.Sleep(1100 * time.Millisecond) // the store's clock has seconds
		between := time.Now().UTC().Format(time.RFC3339)
		time.Sleep(1100 * time.Millisecond)
		must(t, os.WriteFile(filepath.Join(m.dir, "data", "later"), []byte("after the first snapshot"), 0o644))
		must(t, lutimes(filepath.Join(m.dir, "data"), want["."].mtime, want["."].mtime))
		m.snapshot(t)
		m.umount(t)

		restoreArgs := func(args ...string) []string { return append(append([]string{"restore"}, args...), r.repoArgs()...) }
		out := filepath.Join(t.TempDir(), "out")
		res := r.mustCoffer(t, longTimeout, restoreArgs("latest:/data", out)...)
		// Not a terminal: no progress bar, only the summary line.
		if res.stdout != "" || !strings.HasPrefix(res.stderr, "coffer: restored ") || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("restore off a terminal printed stdout %q, stderr %q; want only the summary on stderr", res.stdout, res.stderr)
		}
		wantLater := scanTree(t, src)
		laterInfo := scanTree(t, out)["later"]
		if laterInfo == nil {
			t.Fatal("latest restore lacks the file of the second snapshot")
		}
		wantLater["later"] = laterInfo
		compareTrees(t, "restore into an empty directory", wantLater, scanTree(t, out), cmpOpts{})
		var st syscall.Stat_t
		must(t, syscall.Stat(filepath.Join(out, "files", "sparse"), &st))
		if st.Blocks*512 > 1*mib {
			t.Errorf("sparse file of 9 MiB with 27 bytes of data takes %d bytes on disk", st.Blocks*512)
		}

		// Damage the copy as an interrupted restore leaves it, then finish.
		must(t, os.Remove(filepath.Join(out, "files", "mib1")))
		writeRandomFile(t, filepath.Join(out, "files", "b4095"), 4095, newRand("other bytes"))
		must(t, os.Truncate(filepath.Join(out, "hard", "a", "three"), 5))
		must(t, os.Chmod(filepath.Join(out, "deep"), 0o777))
		res = r.mustCoffer(t, longTimeout, restoreArgs("latest:/data", out, "--overwrite", "if-changed", "--json")...)
		compareTrees(t, "restore over a partly restored copy", wantLater, scanTree(t, out), cmpOpts{})
		if s := lastSummary(t, res.stdout); s.Files != 5 || s.FilesSkipped == 0 || s.Errors != 0 {
			// mib1, b4095 and three with its two other names
			t.Errorf("if-changed restore summary %+v, want 5 files restored and the rest kept", s)
		}

		// --as-of a time between the snapshots restores the first.
		asOf := filepath.Join(t.TempDir(), "asof")
		r.mustCoffer(t, longTimeout, restoreArgs("latest:/data", asOf, "--as-of", between)...)
		compareTrees(t, "restore --as-of", want, scanTree(t, asOf), cmpOpts{})

		// Include and exclude.
		part := filepath.Join(t.TempDir(), "part")
		r.mustCoffer(t, longTimeout, restoreArgs("latest", part, "--include", "/data/hard", "--include", "*.txt",
			"--exclude", "three-c")...)
		got := scanTree(t, filepath.Join(part, "data"))
		wantPart := manifest{}
		for p, e := range want {
			if p == "." || p == "hard" || strings.HasPrefix(p, "hard/") || p == "名前 with space" || strings.HasSuffix(p, ".txt") {
				wantPart[p] = e
			}
		}
		delete(wantPart, "hard/c/three-c")
		for _, p := range []string{"hard/a/three", "hard/b/three-b"} {
			e := *wantPart[p]
			e.nlink, e.links = 2, "hard/a/three hard/b/three-b"
			wantPart[p] = &e
		}
		compareTrees(t, "restore --include --exclude", wantPart, got, cmpOpts{})

		// dump: one file to stdout, and the tree as a tar archive.
		res = r.mustCoffer(t, longTimeout, append([]string{"dump", "latest:/data/files/mib1"}, r.repoArgs()...)...)
		if srcBytes, _ := os.ReadFile(filepath.Join(src, "files", "mib1")); !bytes.Equal([]byte(res.stdout), srcBytes) {
			t.Errorf("coffer dump wrote %d bytes, want the file's %d", len(res.stdout), len(srcBytes))
		}
		untar := filepath.Join(t.TempDir(), "untar")
		must(t, os.Mkdir(untar, 0o755))
		dump := exec.Command(cofferBin, append([]string{"dump", "--archive", "tar", "latest:/data"}, r.repoArgs()...)...)
		dump.Env = append(os.Environ(), r.env()...)
		tarCmd := exec.Command(tool(t, "tar"), "-x", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner", "-C", untar, "-f", "-")
		pipe, err := dump.StdoutPipe()
		must(t, err)
		tarCmd.Stdin = pipe
		var dumpErr, tarErr bytes.Buffer
		dump.Stderr, tarCmd.Stderr = &dumpErr, &tarErr
		must(t, dump.Start())
		if err := tarCmd.Run(); err != nil {
			t.Fatalf("tar -x of coffer dump --archive tar: %v\n%s", err, tarErr.String())
		}
		if err := dump.Wait(); err != nil {
			t.Fatalf("coffer dump --archive tar: %v\n%s", err, dumpErr.String())
		}
		compareTrees(t, "tar -x of coffer dump --archive tar", wantLater, scanTree(t, untar), cmpOpts{})
	})
}

// TestRestoreDamagedBlock: with one file's packs damaged in the store,
// coffer restore (and dump) names the file and the block, restores
// everything else exactly, and exits 7.
func TestRestoreDamagedBlock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		st := storeOf(t, be)
		rng := newRand(t.Name())
		good := map[string][]byte{"a/one": randBytes(rng, 300*kib), "b/two": randBytes(rng, 5*kib)}
		m := r.mount(t, "--checkpoint-every", "0")
		damaged := victim(t, st, filepath.Join(m.dir, "damaged.bin"), randBytes(rng, 3*mib))
		for name, data := range good {
			putFile(t, filepath.Join(m.dir, name), data)
		}
		m.snapshot(t)
		m.umount(t)
		for _, p := range damaged {
			flipByte(t, objectFile(t, be, p), 0.3)
		}

		out := filepath.Join(t.TempDir(), "out")
		res := r.coffer(t, longTimeout, append([]string{"restore", "latest", out}, r.repoArgs()...)...)
		if res.exitCode() != 7 || !strings.Contains(res.stderr, "/damaged.bin: block ") {
			t.Errorf("restore over a damaged block: exit %d, want 7 and an error naming /damaged.bin and its block:\n%s",
				res.exitCode(), res.stderr)
		}
		checkFiles(t, out, good)
		res = r.coffer(t, longTimeout, append([]string{"dump", "latest:/damaged.bin"}, r.repoArgs()...)...)
		if res.exitCode() != 7 || len(res.stdout) != 3*mib || !strings.Contains(res.stderr, "written as zeros") {
			t.Errorf("dump of a damaged file: exit %d, %d bytes, want 7 and the file's length:\n%s",
				res.exitCode(), len(res.stdout), res.stderr)
		}
	})
}
