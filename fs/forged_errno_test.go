package fs

import (
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"

	"coffer/repo"
)

// TestForgedBlockIsEIO: a block whose every location is forged (or
// damaged) reaches a process as EIO, as repo returns it: one location, or
// several joined.
func TestForgedBlockIsEIO(t *testing.T) {
	one := fmt.Errorf("block b: %w: %w", repo.ErrCorrupt, repo.ErrForged)
	for _, err := range []error{
		fmt.Errorf("block b: %w", repo.ErrForged),
		one,
		fmt.Errorf("block b: all 2 locations failed: %w", errors.Join(one, fmt.Errorf("x: %w", repo.ErrCorrupt))),
	} {
		if got := toErrno(slog.New(slog.DiscardHandler), "read", err); got != syscall.EIO {
			t.Errorf("%v: errno %v, want EIO", err, got)
		}
	}
}
