package localstate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrLocked means another process on this machine holds the repository's
// writer lock: it serves the repository's head read-write.
var ErrLocked = errors.New("the repository is already mounted read-write on this machine")

// WriterLock is held by the one daemon that serves a repository's head on
// this machine. It is an flock(2) on a file named by the repository's ID,
// so it holds whatever cache directory each daemon uses, and the kernel
// releases it when its holder dies.
type WriterLock struct {
	f *os.File
}

// LockWriter takes the writer lock of the repository id in dir (a runtime
// directory such as /run/coffer), without waiting. holder describes the
// taker (its mountpoint) for the message another taker gets; a refusal
// wraps ErrLocked and names the holder.
func LockWriter(dir string, id []byte, holder string) (*WriterLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("writer lock: %w", err)
	}
	path := filepath.Join(dir, hex.EncodeToString(id)+".writer")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writer lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		who, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, strings.TrimSpace(string(who)))
		}
		return nil, fmt.Errorf("writer lock %s: %w", path, err)
	}
	// Who holds it, for the message of the next taker; the flock, not
	// this text, is the lock.
	desc := fmt.Sprintf("by pid %d at %s", os.Getpid(), holder)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(desc+"\n"), 0)
	}
	return &WriterLock{f: f}, nil
}

// Release gives the lock up. The file stays: removing it could let two
// takers lock two different files of one name.
func (l *WriterLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the only descriptor drops the flock
	l.f = nil
	return err
}
