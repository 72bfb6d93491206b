package fs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/repo"
)

func TestToErrno(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"unreachable store with a network errno inside", fmt.Errorf("put: %w: %w", objectstore.ErrUnavailable, netErr), syscall.EIO},
		{"interrupted caller", fmt.Errorf("read: %w", context.Canceled), syscall.EINTR},
		{"tampered block", fmt.Errorf("block: %w", cipher.ErrAuth), syscall.EIO},
		{"missing block", fmt.Errorf("x: %w", repo.ErrMissingBlock), syscall.EIO},
		{"disk full", fmt.Errorf("write: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"refused by the store", fmt.Errorf("x: %w", objectstore.ErrPermission), syscall.EACCES},
		{"unknown", fmt.Errorf("something else"), syscall.EIO},
		// A pack missing from the local store: the sentinel and the file
		// system's own error, which carries ENOENT.
		{"missing pack in a local store", fmt.Errorf("block 00 in pack 11: local get range data/11/11: %w: %w",
			objectstore.ErrNotFound, &os.PathError{Op: "open", Path: "data/11/11@obj", Err: syscall.ENOENT}), syscall.EIO},
		{"object failing its store checksum", fmt.Errorf("x: %w", objectstore.ErrCorrupt), syscall.EIO},
		{"truncated pack", fmt.Errorf("x: %w", objectstore.ErrInvalidRange), syscall.EIO},
		{"corrupt tree", fmt.Errorf("tree: %w", repo.ErrCorrupt), syscall.EIO},
		{"local store refusing", fmt.Errorf("x: %w: %w", objectstore.ErrPermission, syscall.EROFS), syscall.EROFS},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		if got := toErrno(log, "test", c.err); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		// Every EIO says why, naming what failed.
		if c.want == syscall.EIO && !strings.Contains(buf.String(), c.err.Error()) {
			t.Errorf("%s: EIO without a log line naming the error: %q", c.name, buf.String())
		}
	}
}
