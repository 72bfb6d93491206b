package fs

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	}
	log := slog.New(slog.DiscardHandler)
	for _, c := range cases {
		if got := toErrno(log, "test", c.err); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
