package tests

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShellRedirect checks write-once from a shell's point of view: `>`
// replaces a closed file, `>>` and every other in-place change fail with
// EPERM (opening for writing succeeds; writing does not), and everything under .snapshots fails with EROFS. It also checks
// that .snapshots is reachable by name but not listed.
func TestShellRedirect(t *testing.T) {
	tool(t, "sh")
	lsBin := tool(t, "ls")
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		f := filepath.Join(m.dir, "f")

		res := sh(t, shortTimeout, "echo one > "+f+"; echo two > "+f)
		if res.err != nil {
			t.Fatalf("echo > f twice: %v", res)
		}
		assertContent(t, f, "two\n")

		// The open succeeds (write-once is about bytes, not open flags);
		// the write fails with EPERM, which dash reports as "I/O error".
		res = sh(t, shortTimeout, "echo x >> "+f)
		if res.err == nil {
			t.Errorf("echo x >> f succeeded on a closed file; want EPERM")
		}
		assertContent(t, f, "two\n")

		for _, c := range []struct {
			name string
			flag int
		}{
			{"O_WRONLY", os.O_WRONLY},
			{"O_RDWR", os.O_RDWR},
			{"O_WRONLY|O_APPEND", os.O_WRONLY | os.O_APPEND},
			{"O_RDWR|O_CREATE", os.O_RDWR | os.O_CREATE},
		} {
			fh, err := os.OpenFile(f, c.flag, 0)
			if err != nil {
				t.Errorf("open(f, %s) of a closed file: %v", c.name, err)
				continue
			}
			if _, err := fh.Write([]byte("x")); !errors.Is(err, syscall.EPERM) {
				t.Errorf("write through open(f, %s) of a closed file = %v; want EPERM", c.name, err)
			}
			fh.Close()
		}
		if err := os.Truncate(f, 1); !errors.Is(err, syscall.EPERM) {
			t.Errorf("truncate(f, 1) = %v; want EPERM", err)
		}
		assertContent(t, f, "two\n")

		// A fresh name works like anywhere else, and the head can be
		// shaped freely.
		must(t, os.Mkdir(filepath.Join(m.dir, "d"), 0o755))
		writeFile(t, filepath.Join(m.dir, "d/g"), []byte("gee\n"), 0o644)
		must(t, os.Rename(filepath.Join(m.dir, "d/g"), filepath.Join(m.dir, "d/h")))
		must(t, os.Symlink("h", filepath.Join(m.dir, "d/link")))
		must(t, os.Chmod(filepath.Join(m.dir, "d/h"), 0o600))

		m.snapshot(t)
		latest := filepath.Join(m.dir, ".snapshots", "latest")
		assertContent(t, filepath.Join(latest, "f"), "two\n")
		assertContent(t, filepath.Join(latest, "d/link"), "gee\n")

		// ls -a of the root does not show .snapshots, but it can be used.
		res = mustRun(t, shortTimeout, nil, lsBin, "-a", m.dir)
		if strings.Contains(res.stdout, ".snapshots") {
			t.Errorf("ls -a %s lists .snapshots:\n%s", m.dir, res.stdout)
		}
		res = mustRun(t, shortTimeout, nil, lsBin, latest)
		if got := strings.Fields(res.stdout); strings.Join(got, " ") != "d f" {
			t.Errorf("ls .snapshots/latest = %q, want [d f]", got)
		}

		// Everything under .snapshots is read-only.
		sf := filepath.Join(latest, "f")
		erofs := map[string]error{}
		openErr := func(p string, flag int) error {
			fh, err := os.OpenFile(p, flag, 0o644)
			if err == nil {
				fh.Close()
			}
			return err
		}
		erofs["open O_WRONLY"] = openErr(sf, os.O_WRONLY)
		erofs["open O_TRUNC"] = openErr(sf, os.O_WRONLY|os.O_TRUNC)
		erofs["open O_APPEND"] = openErr(sf, os.O_WRONLY|os.O_APPEND)
		erofs["create"] = openErr(filepath.Join(latest, "new"), os.O_WRONLY|os.O_CREATE)
		erofs["create in subdir"] = openErr(filepath.Join(latest, "d/new"), os.O_WRONLY|os.O_CREATE)
		erofs["truncate"] = os.Truncate(sf, 0)
		erofs["mkdir"] = os.Mkdir(filepath.Join(latest, "newdir"), 0o755)
		erofs["rename"] = os.Rename(sf, filepath.Join(latest, "f2"))
		erofs["unlink"] = os.Remove(sf)
		erofs["rmdir"] = syscall.Rmdir(filepath.Join(latest, "d"))
		erofs["chmod"] = os.Chmod(sf, 0o600)
		erofs["chown"] = os.Lchown(sf, 1, 1)
		erofs["utimes"] = lutimes(sf, time.Unix(1e9, 0), time.Unix(1e9, 0))
		erofs["symlink"] = os.Symlink("f", filepath.Join(latest, "s"))
		erofs["link"] = os.Link(sf, filepath.Join(latest, "hl"))
		erofs["setxattr"] = syscall.Setxattr(sf, "user.x", []byte("y"), 0)
		erofs["shell >"] = sh(t, shortTimeout, "echo z > "+sf).err
		erofs["mkdir .snapshots/x"] = os.Mkdir(filepath.Join(m.dir, ".snapshots", "x"), 0o755)
		erofs["unlink .snapshots/latest"] = os.Remove(latest)
		erofs["rename .snapshots/latest"] = os.Rename(latest, filepath.Join(m.dir, ".snapshots", "y"))
		for op, err := range erofs {
			switch {
			case op == "shell >":
				if err == nil {
					t.Errorf("%s under .snapshots succeeded", op)
				}
			case !errors.Is(err, syscall.EROFS):
				t.Errorf("%s under .snapshots = %v; want EROFS", op, err)
			}
		}
		// Moving a head file into a snapshot must fail too.
		if err := os.Rename(f, filepath.Join(latest, "moved")); !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EXDEV) {
			t.Errorf("rename head → snapshot = %v; want EROFS (or EXDEV)", err)
		}
		assertContent(t, sf, "two\n")

		// Replacing the head's file leaves the snapshot's alone.
		res = sh(t, shortTimeout, "echo three > "+f)
		if res.err != nil {
			t.Fatalf("echo three > f after a snapshot: %v", res)
		}
		assertContent(t, f, "three\n")
		assertContent(t, sf, "two\n")
		m.umount(t)
	})
}

func assertContent(t testing.TB, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("reading %s: %v", path, err)
		return
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}
