package localstate

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Checkpoint is the file holding the sealed head checkpoint: a record of
// the head's trees (which are in the store already), written between
// snapshots so that a daemon that dies is resumed, not lost. A nil
// *Checkpoint (--cache-dir off) holds nothing and saves nothing.
type Checkpoint struct {
	path     string
	makeRoom func(need int64) int64
	// write is WriteFile; tests replace it to fill the disk.
	write func(path string, data []byte, perm os.FileMode) error
}

// Path is the checkpoint file's name.
func (c *Checkpoint) Path() string {
	if c == nil {
		return ""
	}
	return c.path
}

// Load returns the sealed checkpoint, or nil if there is none.
func (c *Checkpoint) Load() ([]byte, error) {
	if c == nil {
		return nil, nil
	}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("head checkpoint %s: %w", c.path, err)
	}
	return data, nil
}

// Save replaces the checkpoint atomically. On a full disk it first frees
// cached blocks (twice the checkpoint's size, at least 1 MiB) and tries
// again, so a full cache never silently turns crash resume off; if that
// fails too, the error wraps syscall.ENOSPC.
func (c *Checkpoint) Save(sealed []byte) error {
	if c == nil {
		return nil
	}
	err := c.write(c.path, sealed, 0o600)
	if errors.Is(err, syscall.ENOSPC) && c.makeRoom != nil {
		if c.makeRoom(max(2*int64(len(sealed)), 1<<20)) > 0 {
			err = c.write(c.path, sealed, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("head checkpoint %s: %w", c.path, err)
	}
	return nil
}

// Remove drops the checkpoint once a snapshot holds everything it held.
func (c *Checkpoint) Remove() error {
	if c == nil {
		return nil
	}
	if err := Remove(c.path); err != nil {
		return fmt.Errorf("head checkpoint %s: %w", c.path, err)
	}
	return nil
}
