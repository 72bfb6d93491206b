package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"coffer/repo"
)

// Server is the FUSE server of a mount (go-fuse's *fuse.Server).
type Server interface {
	// Unmount unmounts, failing (EBUSY) while the mount is in use.
	Unmount() error
	// Wait returns once the mount is gone.
	Wait()
}

// Head is the writable head a read-write mount serves (*fs.Head).
type Head interface {
	Changed() bool
	Version() uint64
	Commit(ctx context.Context, tags []string) (*repo.Snapshot, error)
	Checkpoint(ctx context.Context) (*repo.Snapshot, error)
	// BeginStop refuses new opens for writing; EndStop allows them again.
	BeginStop()
	EndStop()
	// OpenWriters lists the files open for writing.
	OpenWriters() []string
	// Base is the ID of the snapshot the head started from or last
	// committed; "" if none.
	Base() string
}

// Checkpoints keeps the head's checkpoint on the local disk.
type Checkpoints interface {
	Save(c *repo.Snapshot) error
	Remove() error
}

// Config describes one mount to serve.
type Config struct {
	Mountpoint string // absolute, symlinks resolved
	RunDir     string // where the control socket lives (/run/coffer)
	Server     Server
	Log        *slog.Logger
	// Ready, if set, is called once the mount serves and its control
	// socket listens (when READY=1 is sent): the "mounted" line scripts
	// wait for, so a `coffer snapshot` right after it finds the daemon.
	Ready func()
	// Notify, if set, tells the service manager (systemd) of the mount:
	// ready, each commit, stopping, and the watchdog's pings.
	Notify *Notifier
	// Uploaded, if set, counts the bytes the store has received so far;
	// each commit's summary says how many came since the one before.
	Uploaded func() int64
	// Observer, if set, hears of each commit with its summary.
	Observer CommitObserver
	// Head is nil for a read-only snapshot mount.
	Head Head
	// Checkpoints may be nil (--cache-dir off).
	Checkpoints     Checkpoints
	SnapshotEvery   time.Duration // 0: no timer
	CheckpointEvery time.Duration // 0: no checkpoints
	// StopTimeout bounds how long a stop waits for files open for writing.
	StopTimeout time.Duration
	// Describe renders an error for a control client: one line, and the
	// exit status it maps to.
	Describe func(error) (msg string, code int)
	// Detach unmounts lazily, when the mount is still in use at a stop by
	// a signal; nil means umount2(MNT_DETACH).
	Detach func(mountpoint string) error
	// Events, if set, hears of the mount, each commit and the unmount.
	Events Events
	// Guard, if set on a read-write mount, reads prune plans at the
	// start and every Guard.RefreshInterval, and keeps the relied set.
	Guard Guard
}

// Daemon serves one mount until it is stopped.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	saved atomic.Uint64 // the head's version when last committed or checkpointed
	// uncommitted: the mount ended with changes no snapshot holds (a
	// checkpoint keeps them), so its session stays open for prune.
	uncommitted atomic.Bool
	started     time.Time // when Run began

	stopMu  sync.Mutex // one stop at a time
	stopped bool       // guarded by stopMu; unmounted, Run is returning

	umounted chan struct{} // closed once `coffer umount` has its reply
	once     sync.Once

	// uploadedAt is Config.Uploaded at the last commit (summary.go).
	uploadedAt atomic.Int64
}

// New prepares a daemon for a mounted server.
func New(cfg Config) *Daemon {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Describe == nil {
		cfg.Describe = func(err error) (string, int) { return err.Error(), 1 }
	}
	if cfg.Detach == nil {
		cfg.Detach = func(mp string) error { return syscall.Unmount(mp, syscall.MNT_DETACH) }
	}
	d := &Daemon{cfg: cfg, log: cfg.Log, umounted: make(chan struct{})}
	if cfg.Uploaded != nil {
		d.uploadedAt.Store(cfg.Uploaded())
	}
	return d
}

// Run serves until the mount is stopped: ctx is cancelled (a signal),
// `coffer umount` asks, or the mount is unmounted from outside. It returns
// nil only if nothing written was left out: a stop that had to leave open
// files out returns an error wrapping ErrLeftOut, and a final commit that
// failed returns its error.
func (d *Daemon) Run(ctx context.Context) error {
	served := make(chan struct{})
	go func() { d.cfg.Server.Wait(); close(served) }()
	stopControl, err := listen(ctx, SocketPath(d.cfg.RunDir, d.cfg.Mountpoint), d.handle)
	if err != nil {
		if uerr := d.cfg.Server.Unmount(); uerr != nil {
			_ = d.cfg.Detach(d.cfg.Mountpoint)
		}
		return err
	}
	defer stopControl()
	d.started = time.Now()
	if ev := d.cfg.Events; ev != nil {
		base := ""
		if d.cfg.Head != nil {
			base = d.cfg.Head.Base()
		}
		ev.Mounted(context.WithoutCancel(ctx), base)
		defer func() { ev.Unmounted(context.WithoutCancel(ctx), !d.uncommitted.Load()) }()
	}
	var snapTick, checkpointTick, refreshTick <-chan time.Time
	if d.cfg.Head != nil && d.cfg.Guard != nil {
		d.refreshPlans(context.WithoutCancel(ctx))
		t := time.NewTicker(d.cfg.Guard.RefreshInterval())
		defer t.Stop()
		refreshTick = t.C
	}
	if d.cfg.Head != nil && d.cfg.SnapshotEvery > 0 {
		t := time.NewTicker(d.cfg.SnapshotEvery)
		defer t.Stop()
		snapTick = t.C
	}
	if d.cfg.Head != nil && d.cfg.Checkpoints != nil && d.cfg.CheckpointEvery > 0 {
		t := time.NewTicker(d.cfg.CheckpointEvery)
		defer t.Stop()
		checkpointTick = t.C
	}
	d.notify("READY=1", "STATUS=serving "+d.cfg.Mountpoint)
	if d.cfg.Ready != nil {
		d.cfg.Ready()
	}
	stopWatchdog := make(chan struct{})
	defer close(stopWatchdog)
	go d.watchdog(stopWatchdog)

	bg := context.WithoutCancel(ctx)
	for {
		select {
		case <-checkpointTick:
			d.saveCheckpoint(bg)
		case <-refreshTick:
			d.refreshPlans(bg)
		case <-snapTick:
			if d.cfg.Head.Changed() {
				_, _ = d.commit(bg, []string{"timer"})
			}
		case <-ctx.Done():
			d.log.Info("signal received: stopping")
			_, err := d.stop(bg, false)
			return err
		case <-d.umounted:
			return nil
		case <-served:
			d.stopMu.Lock()
			asked := d.stopped
			d.stopMu.Unlock()
			if asked {
				// `coffer umount` unmounted; let it have its reply.
				select {
				case <-d.umounted:
				case <-time.After(10 * time.Second):
				}
				return nil
			}
			// Unmounted from outside (umount(8), fusermount -u): no
			// process can use the mount any more, so nothing is open.
			d.log.Info("unmounted from outside: committing")
			d.notify("STOPPING=1", "STATUS=unmounted from outside: committing")
			if d.cfg.Head != nil && d.cfg.Head.Changed() {
				if _, err := d.commit(bg, nil); err != nil {
					d.saveCheckpoint(bg)
					d.uncommitted.Store(true)
					return err
				}
			}
			return nil
		}
	}
}

// handle answers a control request.
func (d *Daemon) handle(ctx context.Context, req Request) (Reply, func()) {
	bg := context.WithoutCancel(ctx)
	switch req.Op {
	case "ping":
		return Reply{}, nil
	case "snapshot":
		if d.cfg.Head == nil {
			return Reply{Error: d.cfg.Mountpoint + " is a read-only snapshot mount", Code: 2}, nil
		}
		s, sum, err := d.commitSummary(bg, req.Tags)
		if err != nil {
			return d.failed("snapshot not committed: %w", err), nil
		}
		return Reply{ID: s.ID, Time: s.Time, Created: true, Summary: &sum}, nil
	case "umount":
		s, err := d.stop(bg, true)
		if err != nil {
			return d.failed("not unmounted: %w", err), nil
		}
		if d.cfg.Events != nil {
			d.cfg.Events.Unmounted(bg, true) // before the reply, so `coffer umount` returns after the record
		}
		done := func() { d.once.Do(func() { close(d.umounted) }) }
		if s != nil {
			return Reply{ID: s.ID, Time: s.Time, Created: true}, done
		}
		return Reply{}, done
	}
	return Reply{Error: "unknown request " + req.Op, Code: 2}, nil
}

// commit commits the head and drops the checkpoint it supersedes.
func (d *Daemon) commit(ctx context.Context, tags []string) (*repo.Snapshot, error) {
	s, _, err := d.commitSummary(ctx, tags)
	return s, err
}

// commitSummary is commit, also saying what the commit did.
func (d *Daemon) commitSummary(ctx context.Context, tags []string) (*repo.Snapshot, CommitSummary, error) {
	start := time.Now()
	h := d.cfg.Head
	version := h.Version()
	mark, clean, started := d.beginCommit(ctx)
	s, err := h.Commit(ctx, tags)
	if err != nil {
		d.log.Error("snapshot failed", "err", err)
		return nil, CommitSummary{}, err
	}
	s.Started = started
	if clean {
		d.cfg.Guard.DropRelied(mark) // every block given before is in s
	}
	if d.cfg.Checkpoints != nil {
		if err := d.cfg.Checkpoints.Remove(); err != nil {
			d.log.Warn("old head checkpoint not removed", "err", err)
		}
	}
	d.saved.Store(version)
	sum := d.summarize(s.ID, s.Time, s.Files, s.Size, time.Since(start))
	if d.cfg.Events != nil {
		d.cfg.Events.Committed(ctx, s)
	}
	if d.cfg.Observer != nil {
		d.cfg.Observer.Committed(sum)
	}
	d.notify(statusLine(d.cfg.Mountpoint, sum))
	d.log.Info("snapshot committed", "id", s.ID, "files", s.Files, "bytes", s.Size, "stored", sum.Stored, "took", sum.Took)
	return s, sum, nil
}

// saveCheckpoint records the head if it changed since it was last
// committed or checkpointed. A failure is logged as an error every time,
// since until a checkpoint succeeds a crash loses what changed since the
// last snapshot; the next tick, or the next snapshot, tries again.
func (d *Daemon) saveCheckpoint(ctx context.Context) {
	h := d.cfg.Head
	if h == nil || d.cfg.Checkpoints == nil {
		return
	}
	version := h.Version()
	if version == d.saved.Load() || !h.Changed() {
		return
	}
	c, err := h.Checkpoint(ctx)
	if err == nil {
		err = d.cfg.Checkpoints.Save(c)
	}
	if err != nil {
		d.log.Error("head checkpoint not saved: a crash now would lose what changed since the last snapshot (free space in --cache-dir, or commit a snapshot)", "err", err)
		return
	}
	d.saved.Store(version)
	d.log.Debug("head checkpoint saved", "files", c.Files, "bytes", c.Size)
}
