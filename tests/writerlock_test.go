package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refusedMount starts `coffer mount` on dir and expects it to exit
// non-zero without mounting, its log saying want.
func refusedMount(t *testing.T, r *repo, dir, want string, extra ...string) {
	t.Helper()
	m := r.startMount(t, dir, extra...)
	err := m.waitExit(t, mountTimeout)
	if err == nil {
		t.Errorf("coffer mount %s exited 0; want a refusal", dir)
	}
	if !strings.Contains(m.log(), want) {
		t.Errorf("coffer mount %s: log does not say %q:\n%s", dir, want, m.log())
	}
	if isMounted(t, dir) {
		t.Errorf("%s is mounted after a refused mount", dir)
	}
}

// TestSecondWriterRefused: a second read-write mount of one repository on
// one machine is refused, whatever cache directory each uses; a read-only
// snapshot mount beside it is fine, and once the first is unmounted the
// second may mount.
func TestSecondWriterRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t, "--cache-dir", filepath.Join(t.TempDir(), "a"))
		writeFile(t, filepath.Join(m.dir, "f"), []byte("one\n"), 0o644)
		m.snapshot(t)

		second := filepath.Join(t.TempDir(), "mnt2")
		must(t, os.Mkdir(second, 0o755))
		other := []string{"--cache-dir", filepath.Join(t.TempDir(), "b")}
		refusedMount(t, r, second, "already mounted read-write", other...)

		ro := r.mount(t, "--snapshot", "latest")
		assertContent(t, filepath.Join(ro.dir, "f"), "one\n")
		ro.umount(t)

		m.umount(t)
		m2 := r.startMount(t, second, other...)
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, "f"), "one\n")
		m2.umount(t)
	})
}

// TestMountpointChecks: a mountpoint that is a file is refused with one
// clear error and nothing mounted; a non-empty directory is refused unless
// --nonempty; `coffer snapshot` and `coffer umount` accept a symlink to the
// mountpoint.
func TestMountpointChecks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		file := filepath.Join(t.TempDir(), "file")
		writeFile(t, file, []byte("x"), 0o644)
		refusedMount(t, r, file, "not a directory")

		full := filepath.Join(t.TempDir(), "full")
		must(t, os.Mkdir(full, 0o755))
		writeFile(t, filepath.Join(full, "hidden"), []byte("x"), 0o644)
		refusedMount(t, r, full, "--nonempty")
		m := r.startMount(t, full, "--nonempty")
		m.waitReady(t)
		if _, err := os.Stat(filepath.Join(full, "hidden")); !os.IsNotExist(err) {
			t.Errorf("the mount over a non-empty directory shows its file: %v", err)
		}
		m.umount(t)

		m = r.mount(t)
		link := filepath.Join(t.TempDir(), "link")
		must(t, os.Symlink(m.dir, link))
		writeFile(t, filepath.Join(link, "via-link"), []byte("y\n"), 0o644)
		res := r.coffer(t, longTimeout, "snapshot", link)
		if res.err != nil || strings.TrimSpace(res.stdout) == "" {
			t.Fatalf("coffer snapshot through a symlink: %v", res)
		}
		if res := r.coffer(t, longTimeout, "umount", link); res.err != nil {
			t.Fatalf("coffer umount through a symlink: %v", res)
		}
		if err := m.waitExit(t, longTimeout); err != nil {
			t.Fatalf("daemon exited with %v after coffer umount", err)
		}
		m2 := r.startMount(t, m.dir)
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, ".snapshots", "latest", "via-link"), "y\n")
		m2.umount(t)
	})
}

// TestParentOverride: --parent starts the head from an older snapshot (the
// way on when the latest is damaged); the mount says it does not start
// from the latest, and the commit on top of it is reported as a fork.
func TestParentOverride(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		writeFile(t, filepath.Join(m.dir, "f"), []byte("one\n"), 0o644)
		first := m.snapshot(t)
		writeFile(t, filepath.Join(m.dir, "g"), []byte("two\n"), 0o644)
		m.snapshot(t)
		m.umount(t)

		m2 := r.startMount(t, m.dir, "--parent", first[:12])
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, "f"), "one\n")
		if _, err := os.Stat(filepath.Join(m2.dir, "g")); !os.IsNotExist(err) {
			t.Errorf("g, committed after the --parent snapshot, is in the head: %v", err)
		}
		if !strings.Contains(m2.log(), "does not start from the repository's latest snapshot") {
			t.Errorf("the mount did not say it starts from an older snapshot:\n%s", m2.log())
		}
		writeFile(t, filepath.Join(m2.dir, "h"), []byte("three\n"), 0o644)
		m2.snapshot(t)
		if !strings.Contains(m2.log(), "histories fork") {
			t.Errorf("a commit on top of an older snapshot was not reported:\n%s", m2.log())
		}
		m2.umount(t)
		if res := r.coffer(t, mountTimeout, append(append([]string{"mount"}, r.repoArgs()...), "--parent", "nosuch", m.dir)...); res.err == nil ||
			!strings.Contains(res.stderr, "--parent") {
			t.Errorf("--parent of an unknown snapshot: %v; want a refusal naming --parent", res)
		}
	})
}
