package progress

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns both ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestNoBarWhenNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := New(w, "restore", 100, 2)
	if b != nil {
		t.Fatal("a bar on a pipe")
	}
	b.Add(1, 50) // a nil bar is silent, not a crash
	b.Done()
	w.Close()
	var out bytes.Buffer
	out.ReadFrom(r)
	if out.Len() != 0 {
		t.Fatalf("wrote %q to a pipe", out.String())
	}
	if New(&out, "restore", 100, 2) != nil {
		t.Fatal("a bar on a buffer")
	}
}

func TestBarOnATerminal(t *testing.T) {
	m, s := openPTY(t)
	b := New(s, "restoring files", 2<<20, 2)
	if b == nil {
		t.Fatal("no bar on a terminal")
	}
	b.Add(1, 1<<20)
	time.Sleep(150 * time.Millisecond) // past the throttle
	b.Add(1, 1<<20)
	b.Done()
	s.Close() // the master's reads end (EIO) once the output is drained
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	out := got.String()
	for _, want := range []string{"restoring files 2/2", "MiB/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
}

func TestQuiet(t *testing.T) {
	_, s := openPTY(t)
	Quiet = true
	defer func() { Quiet = false }()
	if New(s, "restore", 1, 1) != nil {
		t.Fatal("a bar under Quiet")
	}
}
