package tests

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildTarTree builds a tree with hard links, symlinks, odd modes and
// distinct directory mtimes for the tar test.
func buildTarTree(t testing.TB, root string) {
	t.Helper()
	rng := newRand("tar " + root)
	mkdirs(t, root, "etc/conf.d", "var/lib/app/empty", "usr/bin", "home/u/.cache")
	for p, n := range map[string]int64{
		"etc/passwd": 1200, "etc/conf.d/a.conf": 0, "etc/conf.d/b.conf": 4097,
		"var/lib/app/db": 3*mib + 17, "usr/bin/tool": 200 * kib, "home/u/notes": 1,
	} {
		writeRandomFile(t, filepath.Join(root, p), n, rng)
	}
	must(t, os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-alias")))
	must(t, os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "home/u/tool-copy")))
	must(t, os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "var/lib/app/passwd")))
	must(t, os.Symlink("tool", filepath.Join(root, "usr/bin/tool-link")))
	must(t, os.Symlink("/usr/bin/tool", filepath.Join(root, "home/u/abs-link")))
	must(t, os.Symlink("../../nowhere", filepath.Join(root, "home/u/dangling")))
	must(t, os.Symlink("../etc", filepath.Join(root, "var/etc")))
	must(t, syscall.Chmod(filepath.Join(root, "usr/bin/tool"), 0o4755))
	must(t, syscall.Chmod(filepath.Join(root, "home/u"), 0o700))
	must(t, os.Chown(filepath.Join(root, "home/u"), 1000, 1000))
	must(t, os.Chown(filepath.Join(root, "home/u/notes"), 1000, 1000))
	must(t, syscall.Chmod(filepath.Join(root, "var/lib/app/empty"), 0o1777))
	setTimesBottomUp(t, root, time.Date(2003, 7, 1, 12, 0, 0, 0, time.UTC))
}

// tarEntry is what a tar archive says about one member.
type tarEntry struct {
	hdr string // type, mode, owner, size, mtime, link target
	sha string // of the member's bytes
}

// readTar reads an archive into name → entry.
func readTar(t testing.TB, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]tarEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		hash := sha256.New()
		if _, err := io.Copy(hash, tr); err != nil {
			t.Fatalf("reading %s member %s: %v", path, h.Name, err)
		}
		out[h.Name] = tarEntry{
			hdr: fmt.Sprintf("type=%c mode=%o uid=%d gid=%d size=%d mtime=%d link=%q",
				h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.Unix(), h.Linkname),
			sha: hex.EncodeToString(hash.Sum(nil)),
		}
	}
}

// tarList is `tar -tvf` of an archive, lines sorted.
func tarList(t testing.TB, archive string) []string {
	t.Helper()
	res := mustRun(t, shortTimeout, nil, tool(t, "tar"), "-tvf", archive)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	sort.Strings(lines)
	return lines
}

// TestTar extracts a GNU tar archive into the head, snapshots, and checks
// that an archive made from the snapshot lists the same members with the
// same bytes as one made from the source.
func TestTar(t *testing.T) {
	tarBin := tool(t, "tar")
	forEachBackend(t, func(t *testing.T, be *backend) {
		work := t.TempDir()
		src := filepath.Join(work, "src")
		buildTarTree(t, src)
		archive := filepath.Join(work, "src.tar")
		// --sort=name makes the first name of each hard link, which carries
		// the data, independent of readdir order.
		mustRun(t, shortTimeout, nil, tarBin, "--format=gnu", "--sort=name", "-cf", archive, "-C", src, ".")

		r := newRepo(t, be)
		m := r.mount(t)
		dst := filepath.Join(m.dir, "t")
		must(t, os.Mkdir(dst, 0o755))
		mustRun(t, longTimeout, nil, tarBin, "-xpf", archive, "-C", dst)
		compareTrees(t, "head after tar -x", scanTree(t, src), scanTree(t, dst), cmpOpts{mtimeSeconds: true, noXattrs: true})
		m.snapshot(t)

		snapT := filepath.Join(m.dir, ".snapshots", "latest", "t")
		again := filepath.Join(work, "snap.tar")
		mustRun(t, longTimeout, nil, tarBin, "--format=gnu", "--sort=name", "-cf", again, "-C", snapT, ".")

		wantList, gotList := tarList(t, archive), tarList(t, again)
		if strings.Join(wantList, "\n") != strings.Join(gotList, "\n") {
			t.Errorf("tar -tvf listings differ\nsource:\n%s\nsnapshot:\n%s",
				strings.Join(wantList, "\n"), strings.Join(gotList, "\n"))
		}
		want, got := readTar(t, archive), readTar(t, again)
		for name, w := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("snapshot archive lacks %s", name)
			case g.hdr != w.hdr:
				t.Errorf("%s: snapshot header %s, want %s", name, g.hdr, w.hdr)
			case g.sha != w.sha:
				t.Errorf("%s: snapshot bytes differ from the source's", name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("snapshot archive has extra member %s", name)
			}
		}
		compareTrees(t, "snapshot after tar -x", scanTree(t, src), scanTree(t, snapT), cmpOpts{mtimeSeconds: true, noXattrs: true})
		m.umount(t)
	})
}
