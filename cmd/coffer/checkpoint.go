package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"coffer/repo"
)

// checkpointFile is where the head's checkpoint lives: a sealed record of
// the head's trees (which are themselves in the store), written between
// snapshots so that a daemon that dies is resumed, not lost. "" disables.
type checkpointFile string

func checkpointFileIn(root string) checkpointFile {
	if root == "" {
		return ""
	}
	return checkpointFile(filepath.Join(root, "head"))
}

// load returns the checkpoint if there is a readable one.
func (c checkpointFile) load(r *repo.Repository, log *slog.Logger) *repo.Snapshot {
	if c == "" {
		return nil
	}
	data, err := os.ReadFile(string(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		var s *repo.Snapshot
		if s, err = r.OpenHead(data); err == nil {
			return s
		}
	}
	log.Warn("head checkpoint unreadable; starting from the latest snapshot", "file", string(c), "err", err)
	return nil
}

// save replaces the checkpoint: temporary file, fsync, rename, fsync of
// the directory.
func (c checkpointFile) save(r *repo.Repository, s *repo.Snapshot) error {
	if c == "" {
		return nil
	}
	data, err := r.SealHead(s)
	if err != nil {
		return err
	}
	dir := filepath.Dir(string(c))
	f, err := os.CreateTemp(dir, "head-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), string(c)); err != nil {
		return err
	}
	return syncDir(dir)
}

// remove drops the checkpoint once a snapshot holds everything it held.
func (c checkpointFile) remove() error {
	if c == "" {
		return nil
	}
	if err := os.Remove(string(c)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(string(c)))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
