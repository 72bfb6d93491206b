package daemon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// managerSocket listens as a service manager does, and returns the
// socket's name and the datagrams it receives.
func managerSocket(t *testing.T, name string) (string, <-chan string) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	out := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(out)
				return
			}
			out <- string(buf[:n])
		}
	}()
	return name, out
}

// expect reads datagrams until one holds every line in want.
func expect(t *testing.T, got <-chan string, want ...string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case msg := <-got:
			lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
			all := true
			for _, w := range want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, w)
				}
				all = all && found
			}
			if all {
				return msg
			}
		case <-deadline:
			t.Fatalf("the manager never heard %q", want)
			return ""
		}
	}
}

func TestNotifyLifecycle(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		name := filepath.Join(t.TempDir(), "notify")
		if abstract {
			name = "@coffer-test-" + filepath.Base(t.TempDir())
		}
		sock, got := managerSocket(t, name)
		n, err := NewNotifier(sock, "200000", "", os.Getpid()) // a 200 ms watchdog
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, 5*time.Second)
		f.h.open = nil
		var uploaded atomic.Int64
		uploaded.Store(1000)
		f.cfg.Notify, f.cfg.Uploaded = n, uploaded.Load
		f.d = New(f.cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := f.run(ctx)
		expect(t, got, "READY=1", "STATUS=serving /mnt")
		uploaded.Store(5000)
		r := call(t, f, "snapshot")
		if r.Summary == nil || r.Summary.Stored != 4000 || r.Summary.ID != "s1" {
			t.Fatalf("snapshot reply %+v, summary %+v; want s1 with 4000 bytes stored", r, r.Summary)
		}
		expect(t, got, "STATUS=serving /mnt; last snapshot 0001-01-01T00:00:00Z: 0 files, 3.9 KiB new in the store")
		expect(t, got, "WATCHDOG=1")
		cancel()
		expect(t, got, "STOPPING=1")
		if err := wait(t, done); err != nil {
			t.Fatal(err)
		}
		n.Close()
	}
}

// A refused `coffer umount` must not tell the manager the service stops:
// systemd would take STOPPING=1 as the start of a stop it then waits for.
func TestNotifyRefusedUmountIsNoStop(t *testing.T) {
	sock, got := managerSocket(t, filepath.Join(t.TempDir(), "notify"))
	n, _ := NewNotifier(sock, "", "", 0)
	f := newFixture(t, 100*time.Millisecond)
	f.cfg.Notify = n
	f.d = New(f.cfg)
	done := f.run(context.Background())
	expect(t, got, "READY=1")
	if r := call(t, f, "umount"); r.Error == "" {
		t.Fatalf("umount with a file open = %+v, want refused", r)
	}
	select {
	case msg := <-got:
		t.Fatalf("the manager heard %q after a refused umount", msg)
	case <-time.After(100 * time.Millisecond):
	}
	f.h.closeAfter(0)
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	expect(t, got, "STOPPING=1")
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestNewNotifier(t *testing.T) {
	for _, c := range []struct {
		socket, usec, pid string
		want              time.Duration
		err, none         bool
	}{
		{socket: "", none: true},
		{socket: "relative", err: true},
		{socket: "/run/x", usec: "", want: 0},
		{socket: "/run/x", usec: "30000000", want: 30 * time.Second},
		{socket: "@x", usec: "30000000", pid: "42", want: 30 * time.Second},
		{socket: "/run/x", usec: "30000000", pid: "41", want: 0}, // meant for another process
		{socket: "/run/x", usec: "junk", want: 0},
	} {
		n, err := NewNotifier(c.socket, c.usec, c.pid, 42)
		if (err != nil) != c.err || (n == nil) != (c.none || c.err) {
			t.Errorf("NewNotifier(%q) = %v, %v", c.socket, n, err)
			continue
		}
		if got := n.WatchdogInterval(); got != c.want {
			t.Errorf("NewNotifier(%q, %q, %q): watchdog %v, want %v", c.socket, c.usec, c.pid, got, c.want)
		}
	}
}
