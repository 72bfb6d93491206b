package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/fs"
	"coffer/repo"
)

// daemon serves one head mount until it is unmounted or signalled.
type daemon struct {
	h          *fs.Head
	r          *repo.Repository
	checkpoint checkpointFile
	saved      atomic.Uint64 // the head's version when last committed or checkpointed
	server     *fuse.Server
	mp         string
	log        *slog.Logger
	once       sync.Once
	done       chan struct{} // closed once `coffer umount` has its reply
	asked      atomic.Bool   // `coffer umount` is unmounting
}

// run waits for a signal, an unmount request, or an external umount, and
// commits the head if it changed before returning.
func (d *daemon) run(ctx context.Context, every, checkpointEvery time.Duration) error {
	served := make(chan struct{})
	go func() { d.server.Wait(); close(served) }()
	var tick, checkpointTick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	if checkpointEvery > 0 && d.checkpoint != "" {
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		checkpointTick = t.C
	}
	for {
		select {
		case <-checkpointTick:
			d.saveCheckpoint(context.WithoutCancel(ctx))
			continue
		case <-tick:
			if d.h.Changed() {
				d.commit(context.WithoutCancel(ctx), []string{"timer"})
			}
			continue
		case <-ctx.Done():
			d.log.Info("signal received: committing and unmounting")
			_, err := d.finalCommit(context.WithoutCancel(ctx))
			unmount(d.server, d.mp, d.log)
			<-served
			return err
		case <-d.done:
			<-served
			return nil
		case <-served:
			if d.asked.Load() {
				<-d.done
				return nil
			}
			// Unmounted from outside (umount(8), fusermount -u).
			_, err := d.finalCommit(context.Background())
			return err
		}
	}
}

func (d *daemon) commit(ctx context.Context, tags []string) (*repo.Snapshot, error) {
	version := d.h.Version()
	s, err := d.h.Commit(ctx, tags)
	if err != nil {
		d.log.Error("snapshot failed", "err", err)
		return nil, err
	}
	if err := d.checkpoint.remove(); err != nil {
		d.log.Warn("old head checkpoint not removed", "err", err)
	}
	d.saved.Store(version)
	d.log.Info("snapshot committed", "id", s.ID, "files", s.Files, "bytes", s.Size)
	return s, nil
}

// finalCommit commits if the head changed since its last snapshot.
func (d *daemon) finalCommit(ctx context.Context) (*repo.Snapshot, error) {
	if !d.h.Changed() {
		return nil, nil
	}
	return d.commit(ctx, nil)
}

// control answers `coffer snapshot` and `coffer umount`.
func (d *daemon) control(ctx context.Context, req controlRequest) (controlReply, func()) {
	switch req.Op {
	case "ping":
		return controlReply{}, nil
	case "snapshot":
		s, err := d.commit(context.WithoutCancel(ctx), req.Tags)
		if err != nil {
			return failed(fmt.Errorf("snapshot not committed: %w", err)), nil
		}
		return controlReply{ID: s.ID, Time: s.Time, Created: true}, nil
	case "umount":
		s, err := d.finalCommit(context.WithoutCancel(ctx))
		if err != nil {
			return failed(fmt.Errorf("not unmounted: the snapshot failed: %w", err)), nil
		}
		d.asked.Store(true)
		if err := d.server.Unmount(); err != nil {
			d.asked.Store(false)
			return controlReply{Error: "unmount " + d.mp + ": " + err.Error() + " (is a process still using it? see fuser -vm " + d.mp + ")"}, nil
		}
		after := func() { d.once.Do(func() { close(d.done) }) }
		if s != nil {
			return controlReply{ID: s.ID, Time: s.Time, Created: true}, after
		}
		return controlReply{}, after
	}
	return controlReply{Error: "unknown request " + req.Op}, nil
}

// unmount detaches the mount, lazily if processes still use it.
func unmount(server *fuse.Server, mp string, log *slog.Logger) {
	if err := server.Unmount(); err != nil {
		log.Warn("unmount busy; detaching lazily", "err", err)
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			log.Error("lazy unmount failed", "err", err)
		}
	}
}

// saveCheckpoint records the head if it changed since it was last
// committed or checkpointed. A failure is logged: the next tick, or the
// next snapshot, tries again.
func (d *daemon) saveCheckpoint(ctx context.Context) {
	version := d.h.Version()
	if version == d.saved.Load() || !d.h.Changed() {
		return
	}
	c, err := d.h.Checkpoint(ctx)
	if err == nil {
		err = d.checkpoint.save(d.r, c)
	}
	if err != nil {
		d.log.Warn("head checkpoint failed", "err", err)
		return
	}
	d.saved.Store(version)
	d.log.Debug("head checkpoint saved", "files", c.Files, "bytes", c.Size)
}
