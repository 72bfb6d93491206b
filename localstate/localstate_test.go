package localstate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, data := range []string{"one", "two, longer"} {
		if err := WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != data {
			t.Fatalf("after WriteFile(%q): %q, %v", data, got, err)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the file (no temporary left)", len(ents))
	}
}

func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should be: the rename fails.
	q := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(q, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(q, []byte("new"), 0o600); err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("a failed WriteFile left %d entries, want 2", len(ents))
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("other file changed: %q", got)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	d, err := OpenDir(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Checkpoint(nil)
	if data, err := c.Load(); data != nil || err != nil {
		t.Fatalf("Load before Save = %q, %v; want nothing", data, err)
	}
	if err := c.Save([]byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if data, err := c.Load(); string(data) != "sealed" || err != nil {
		t.Fatalf("Load = %q, %v", data, err)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if data, err := c.Load(); data != nil || err != nil {
		t.Fatalf("Load after Remove = %q, %v", data, err)
	}
	if err := c.Remove(); err != nil {
		t.Fatalf("Remove of nothing: %v", err)
	}
}

func TestNilDirHoldsNothing(t *testing.T) {
	var d *Dir
	c := d.Checkpoint(nil)
	if err := c.Save([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if data, err := c.Load(); data != nil || err != nil {
		t.Fatalf("Load = %q, %v", data, err)
	}
	if _, ok, err := d.LastSeen(); ok || err != nil {
		t.Fatalf("LastSeen = %v, %v", ok, err)
	}
	if err := d.SaveSeen([]string{"a"}); err != nil {
		t.Fatal(err)
	}
}

func TestLastSeen(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.LastSeen(); ok || err != nil {
		t.Fatalf("first LastSeen = %v, %v; want nothing recorded", ok, err)
	}
	want := []string{"0a1b", "2c3d"}
	if err := d.SaveSeen(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := d.LastSeen()
	if !ok || err != nil || !slices.Equal(got, want) {
		t.Fatalf("LastSeen = %q, %v, %v; want %q", got, ok, err, want)
	}
	if err := d.SaveSeen(nil); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := d.LastSeen(); !ok || len(got) != 0 {
		t.Fatalf("after saving none: %q, %v; want recorded and empty", got, ok)
	}
}

func TestWriterLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	id := []byte{1, 2, 3}
	l, err := LockWriter(dir, id, "/mnt/one")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: a second open in
	// this process is refused like another process would be.
	_, err = LockWriter(dir, id, "/mnt/two")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "/mnt/one") {
		t.Fatalf("second LockWriter = %v; want ErrLocked naming /mnt/one", err)
	}
	other, err := LockWriter(dir, []byte{9}, "/mnt/three")
	if err != nil {
		t.Fatalf("another repository's lock: %v", err)
	}
	defer other.Release()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockWriter(dir, id, "/mnt/two")
	if err != nil {
		t.Fatalf("LockWriter after Release: %v", err)
	}
	l2.Release()
}

// TestWriterLockAcrossProcesses: a lock held by another process (flock(1))
// refuses; once it exits the lock is free.
func TestWriterLockAcrossProcesses(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Fatalf("flock(1) needed: %v", err)
	}
	dir := t.TempDir()
	id := []byte{0xab}
	path := filepath.Join(dir, "ab.writer")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flock, path, "sh", "-c", "echo locked; read x")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := LockWriter(dir, id, "/mnt"); !errors.Is(err, ErrLocked) {
		t.Fatalf("LockWriter while another process holds it = %v; want ErrLocked", err)
	}
	stdin.Close()
	_ = cmd.Wait()
	l, err := LockWriter(dir, id, "/mnt")
	if err != nil {
		t.Fatalf("LockWriter after the holder exited: %v", err)
	}
	l.Release()
}

// TestCheckpointMakesRoom: on a full disk the checkpoint frees cached
// blocks and is saved; when nothing can be freed the error says ENOSPC.
func TestCheckpointMakesRoom(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		freed int64
	}{{"room made", 1 << 20}, {"nothing to free", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var asked int64
			full := true
			c := d.Checkpoint(func(need int64) int64 {
				asked = need
				if tc.freed > 0 {
					full = false
				}
				return tc.freed
			})
			c.write = func(path string, data []byte, perm os.FileMode) error {
				if full {
					return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
				}
				return WriteFile(path, data, perm)
			}
			err := c.Save([]byte("sealed"))
			if asked < 1<<20 {
				t.Errorf("makeRoom asked for %d bytes, want at least 1 MiB", asked)
			}
			if tc.freed > 0 {
				if data, _ := c.Load(); err != nil || string(data) != "sealed" {
					t.Fatalf("Save after making room = %v, file %q", err, data)
				}
			} else if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Save on a full disk = %v, want ENOSPC", err)
			}
		})
	}
}
