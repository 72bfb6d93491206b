package main

import (
	"log/slog"

	"coffer/localstate"
	"coffer/repo"
)

// headCheckpoints keeps the head's checkpoint sealed by the repository in
// the local state directory (daemon.Checkpoints).
type headCheckpoints struct {
	r    *repo.Repository
	file *localstate.Checkpoint
}

// Save seals c and replaces the checkpoint file.
func (c headCheckpoints) Save(s *repo.Snapshot) error {
	data, err := c.r.SealHead(s)
	if err != nil {
		return err
	}
	return c.file.Save(data)
}

// Remove drops the checkpoint.
func (c headCheckpoints) Remove() error { return c.file.Remove() }

// load returns the checkpoint if there is a readable one; one that cannot
// be read or opened is ignored with a warning.
func (c headCheckpoints) load(log *slog.Logger) *repo.Snapshot {
	data, err := c.file.Load()
	if err == nil && data == nil {
		return nil
	}
	if err == nil {
		var s *repo.Snapshot
		if s, err = c.r.OpenHead(data); err == nil {
			return s
		}
	}
	log.Warn("head checkpoint unreadable; starting from the latest snapshot", "file", c.file.Path(), "err", err)
	return nil
}
