package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"coffer/repo"
)

// ErrLeftOut means a stop gave up waiting for files open for writing: they
// are not in the final snapshot, and none of their bytes are kept.
var ErrLeftOut = errors.New("files still open for writing were left out of the snapshot")

// ErrStillOpen means `coffer umount` gave up waiting for files open for
// writing; the mount stays, and nothing is lost.
var ErrStillOpen = errors.New("files are still open for writing")

// ErrBusy means the mount is still in use (open files, a working
// directory) after everything was committed.
var ErrBusy = errors.New("the mount is busy")

// pollWriters is how often a stop looks whether the files it waits for
// are closed.
const pollWriters = 50 * time.Millisecond

// stop ends the mount without dropping data: new opens for writing are
// refused, the files still open are waited for (within StopTimeout),
// the head is committed, and the mount is unmounted.
//
// asked is true for `coffer umount`, which can be refused: if a file is
// still open at the bound, the commit fails or the mount is busy, the
// mount stays as it was and the error says why. A signal cannot be
// refused: the files still open at the bound are left out (ErrLeftOut),
// a failed commit leaves a checkpoint, and a busy mount is detached
// lazily.
func (d *Daemon) stop(ctx context.Context, asked bool) (*repo.Snapshot, error) {
	d.stopMu.Lock()
	defer d.stopMu.Unlock()
	if d.stopped {
		return nil, nil
	}
	h := d.cfg.Head
	var snap *repo.Snapshot
	var leftOut []string
	if !asked {
		// A signal cannot be refused: the stop starts now. `coffer
		// umount` can be, so the manager hears once it is unmounted.
		d.notify("STOPPING=1", "STATUS=stopping: committing and unmounting")
	}
	if h != nil {
		h.BeginStop()
		if open := d.waitWriters(); len(open) > 0 {
			if asked {
				h.EndStop()
				d.log.Error("not unmounting: files still open for writing after the stop timeout", "files", open, "timeout", d.cfg.StopTimeout)
				return nil, fmt.Errorf("%w after %v: %s (close them, or stop their writers, then run coffer umount again)",
					ErrStillOpen, d.cfg.StopTimeout, strings.Join(open, ", "))
			}
			leftOut = open
			d.log.Error("stop timeout: files still open for writing are left out of the snapshot; none of their bytes are kept",
				"files", open, "timeout", d.cfg.StopTimeout)
		}
		version := h.Version()
		if h.Changed() {
			var err error
			if snap, err = d.commit(ctx, nil); err != nil {
				if asked {
					h.EndStop()
					return nil, fmt.Errorf("the snapshot failed: %w", err)
				}
				d.saveCheckpoint(ctx)
				d.unmount(false)
				d.stopped = true
				d.uncommitted.Store(true)
				return nil, fmt.Errorf("the final snapshot failed (a checkpoint keeps the head for the next mount): %w", err)
			}
		}
		if err := d.unmount(asked); err != nil {
			h.EndStop()
			return nil, err
		}
		d.unmounted(asked)
		// Unmounted cleanly: nothing can change the head any more, but
		// something may have (a rename) between the commit and now.
		if len(leftOut) == 0 && h.Version() != version && h.Changed() {
			s, err := d.commit(ctx, nil)
			if err != nil {
				d.saveCheckpoint(ctx)
				d.stopped = true
				d.uncommitted.Store(true)
				return snap, fmt.Errorf("the final snapshot failed (a checkpoint keeps the head for the next mount): %w", err)
			}
			snap = s
		}
	} else if err := d.unmount(asked); err != nil {
		return nil, err
	} else {
		d.unmounted(asked)
	}
	d.stopped = true
	if len(leftOut) > 0 {
		return snap, fmt.Errorf("%w: %s (their writers had not closed them within --stop-timeout %v)",
			ErrLeftOut, strings.Join(leftOut, ", "), d.cfg.StopTimeout)
	}
	return snap, nil
}

// unmounted tells the service manager that a stop `coffer umount` asked
// for can no longer be refused.
func (d *Daemon) unmounted(asked bool) {
	if asked {
		d.notify("STOPPING=1", "STATUS=unmounted: stopping")
	}
}

// waitWriters waits for the head's files open for writing to close, at
// most StopTimeout, and returns those still open.
func (d *Daemon) waitWriters() []string {
	open := d.cfg.Head.OpenWriters()
	if len(open) == 0 {
		return nil
	}
	d.log.Info("stopping: waiting for files open for writing to close; new opens for writing get EROFS",
		"files", open, "timeout", d.cfg.StopTimeout)
	deadline := time.Now().Add(d.cfg.StopTimeout)
	for len(open) > 0 && time.Now().Before(deadline) {
		time.Sleep(min(pollWriters, time.Until(deadline)))
		open = d.cfg.Head.OpenWriters()
	}
	return open
}

// unmount unmounts the mount. When it is busy, `coffer umount` (asked) is
// refused, and a signal detaches it lazily: the daemon exits, and what
// still used the mount gets ENOTCONN.
func (d *Daemon) unmount(asked bool) error {
	err := d.cfg.Server.Unmount()
	if err == nil {
		return nil
	}
	if asked {
		return fmt.Errorf("%w: unmount %s: %v (is a process still using it? see fuser -vm %s)",
			ErrBusy, d.cfg.Mountpoint, err, d.cfg.Mountpoint)
	}
	d.log.Warn("unmount busy; detaching lazily", "err", err)
	if err := d.cfg.Detach(d.cfg.Mountpoint); err != nil {
		d.log.Error("lazy unmount failed", "err", err)
	}
	return nil
}

// failed is a reply for err, with its exit status.
func (d *Daemon) failed(format string, err error) Reply {
	msg, code := d.cfg.Describe(fmt.Errorf(format, err))
	return Reply{Error: msg, Code: code}
}
