package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/spf13/cobra"

	"coffer/cache"
	"coffer/daemon"
	"coffer/duration"
	"coffer/fs"
	"coffer/localstate"
	"coffer/repo"
)

type mountFlags struct {
	repoFlags
	snapshot        string
	asOf            asOfFlag
	parent          string
	allowOther      bool
	nonempty        bool
	every           time.Duration
	checkpointEvery time.Duration
	stopTimeout     time.Duration
	cacheMB         int64
	maxFiles        int
	cacheDir        string
	diskMB          int64
	events          *auditEvents // the audit log's hook, set by runMount
	// Running as a service (mountservice.go).
	metricsListen      string
	metricsAllowRemote bool
	service            *service // set by runMount
}

// errMetricsRemoteAlone: --metrics-allow-remote names no address.
var errMetricsRemoteAlone = errors.New("--metrics-allow-remote needs --metrics-listen HOST:PORT")

// defaultStopTimeout bounds how long a stop waits for files still open
// for writing: long enough for the file a backup job is writing to be
// finished (a dump's last table, a large file mid-copy), short enough
// that a hung writer does not hold a shutdown for good.
const defaultStopTimeout = 10 * time.Minute

func newMountCmd() *cobra.Command {
	var f mountFlags
	c := &cobra.Command{
		Use:   "mount --repo URL MOUNTPOINT",
		Short: "Mount the repository's head (or one snapshot, read-only) in the foreground",
		Long: `Mount the repository at MOUNTPOINT (an empty directory) and serve it until
unmounted. It runs in the foreground and logs to stderr, as a systemd unit
wants.

The mount's root is the head: the next snapshot, writable, starting as a
copy of the latest snapshot of this host (--parent picks another one, for
example when the latest is damaged). A new file may be written in any
order until its last handle closes; from then on its bytes are fixed (open
it with O_TRUNC or rename over it to replace it). Snapshots are under
MOUNTPOINT/.snapshots/<UTC time>/ and .snapshots/latest; they are
read-only and not listed by ls, find or rsync. Only one read-write mount
of a repository may run on a machine.

SIGINT or SIGTERM stops: opening files for writing fails with EROFS from
then on, files still open for writing are waited for (up to
--stop-timeout), a snapshot is committed if the head changed, and the mount
is unmounted. The exit status is 0 only if nothing written was left out;
files still open at the timeout are named in the log, left out of the
snapshot entirely, and the exit status is 1. 'coffer umount MOUNTPOINT'
does the same from another shell, except that at the timeout it leaves the
mount as it is and fails, naming the files.

With --snapshot ID|latest, one snapshot is mounted read-only instead, for
restores on any machine that holds the key; --as-of TIME resolves it among
the snapshots uploaded by then (by the store's clock), setting aside any
forged later.

As a systemd service (Type=notify; see the README), coffer tells systemd
when the mount is ready (READY=1), shows the last snapshot in 'systemctl
status', says when it stops, and pings the watchdog if WatchdogSec= is set.
--metrics-listen 127.0.0.1:9567 serves Prometheus metrics at /metrics:
bytes written, deduplicated and uploaded, upload errors and retries, packs
pending, block cache hits, the last snapshot's time and duration, and FUSE
request latency by operation. Only loopback addresses are accepted unless
--metrics-allow-remote is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd.Context(), &f, args[0])
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&f.snapshot, "snapshot", "", "mount this snapshot (ID, ID prefix, time name or 'latest') read-only")
	fl.Var(&f.asOf, "as-of", "with --snapshot: "+asOfUsage)
	fl.StringVar(&f.parent, "parent", "", "start the head from this snapshot (ID, ID prefix or time name) instead of the latest of this host")
	fl.BoolVar(&f.allowOther, "allow-other", false, "let other users access the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	fl.BoolVar(&f.nonempty, "nonempty", false, "mount over a directory that is not empty (its files are hidden while mounted)")
	f.checkpointEvery, f.stopTimeout = 30*time.Second, defaultStopTimeout // durations in coffer's one grammar (package duration)
	fl.Var(duration.Value{D: &f.every}, "snapshot-every", "also commit a snapshot at this interval when the head changed (e.g. 1h)")
	fl.Var(duration.Value{D: &f.checkpointEvery}, "checkpoint-every", "save the head under --cache-dir this often when it changed, so a crashed daemon's successor resumes it (0: never)")
	fl.Var(duration.Value{D: &f.stopTimeout}, "stop-timeout", "at a stop, wait this long for files still open for writing to be closed")
	fl.Int64Var(&f.cacheMB, "cache-size", 64, "memory for decrypted blocks, in MiB")
	fl.IntVar(&f.maxFiles, "max-files-loaded", fs.DefaultMaxLoaded, "files (and symlinks) of the head kept in memory beyond those in use, about 600 bytes each; past it the least recently used unchanged directories are dropped and read again from their tree blocks when next used")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "keep local state (the head checkpoint, encrypted blocks read from S3) here (default one directory per --repo under $XDG_CACHE_HOME/coffer or ~/.cache/coffer; \"off\" to disable)")
	fl.Int64Var(&f.diskMB, "cache-dir-size", 1024, "bound on the block cache in --cache-dir, in MiB")
	fl.Var(&f.logFormat, "log-format", "log lines as text (key=value) or json (one object a line)")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://HOST:PORT/metrics (a loopback address, e.g. 127.0.0.1:9567)")
	fl.BoolVar(&f.metricsAllowRemote, "metrics-allow-remote", false, "let --metrics-listen take a non-loopback address (other machines may then connect)")
	return c
}

func runMount(ctx context.Context, f *mountFlags, arg string) error {
	err := serveMount(ctx, f, arg)
	if err != nil && f.logFormat == logJSON {
		// The last line too is JSON: the error as a log record.
		f.logger().Error(describe(err))
		return loggedError{err}
	}
	return err
}

func serveMount(ctx context.Context, f *mountFlags, arg string) error {
	mp, err := resolveMountpoint(arg)
	if err != nil {
		return err
	}
	if !f.asOf.t.IsZero() && f.snapshot == "" {
		return fmt.Errorf("--as-of applies to a snapshot mount: add --snapshot latest (or another snapshot)")
	}
	if err := f.checkServiceFlags(); err != nil {
		return err
	}
	if f.maxFiles < 1 {
		return usageError{fmt.Errorf("--max-files-loaded %d: give a number of files, at least 1 (default %d)", f.maxFiles, fs.DefaultMaxLoaded)}
	}
	log := f.logger()
	if addr := os.Getenv("COFFER_PPROF"); addr != "" {
		// Profiling for developers: COFFER_PPROF=127.0.0.1:6060.
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(addr, nil)) }()
	}
	if err := clearStale(ctx, mp, log); err != nil {
		return err
	}
	if err := checkMountpoint(mp, f.nonempty); err != nil {
		return err
	}
	// Keep the heap near its working set: the daemon must stay small
	// however much is written through it. The block cache comes on top;
	// the limit grows with the live heap, less the write path's buffers
	// (memlimit.go).
	var opened atomic.Pointer[repo.Repository]
	defer adaptMemoryLimit((96+f.cacheMB)<<20, func() int64 {
		if r := opened.Load(); r != nil {
			return r.BufferBytes()
		}
		return 0
	})()
	state, err := f.localState()
	if err != nil {
		return err
	}
	disk, err := f.diskCache(state)
	if err != nil {
		return err
	}
	o := repo.Options{Logger: log, CacheBytes: f.cacheMB << 20}
	if disk != nil {
		o.SealedCache = disk
	}
	if state != nil && f.snapshot == "" { // the head mount keeps retention
		o.RetainCache = retainCache{state.Retain()}
	}
	r, counter, err := f.openCounted(ctx, o)
	if err != nil {
		return err
	}
	defer r.Close()
	opened.Store(r)
	f.events = f.newAuditEvents(r, counter, state, log)
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx)) // metrics last until the mount is gone
	defer stopServing()
	if f.service, err = f.startService(serveCtx, r, log); err != nil {
		return err
	}
	defer f.service.close()
	opts := fuseOptions(f.allowOther)
	if f.snapshot != "" {
		return mountSnapshot(ctx, r, f, mp, opts, log)
	}
	return mountHead(ctx, r, f, mp, opts, state, disk, log)
}

func mountHead(ctx context.Context, r *repo.Repository, f *mountFlags, mp string, opts *fusefs.Options,
	state *localstate.Dir, disk *cache.DiskCache, log *slog.Logger) error {
	lock, err := localstate.LockWriter(runDir, r.ID(), mp)
	if err != nil {
		return fmt.Errorf("%w: a second read-write mount would fork the head (unmount the other one first, or mount a snapshot read-only with --snapshot)", err)
	}
	defer lock.Release()
	parent := ""
	if f.parent != "" {
		s, err := r.FindSnapshot(ctx, f.parent)
		if err != nil {
			return fmt.Errorf("--parent: %w", err)
		}
		parent = s.ID
	}
	var makeRoom func(int64) int64
	if disk != nil {
		makeRoom = disk.Free
	}
	cp := headCheckpoints{r: r, file: state.Checkpoint(makeRoom)}
	host, _ := os.Hostname()
	resume := cp.load(log)
	h, err := fs.NewHead(ctx, r, fs.HeadOptions{Logger: log, Host: host, Resume: resume, Parent: parent, MaxLoaded: f.maxFiles})
	if err != nil {
		return err
	}
	if resume != nil { // what the crashed daemon relied on, before the first read of prune plans
		if err := r.RelyOnCheckpoint(ctx, resume); err != nil {
			log.Warn("the checkpoint's blocks are not all guarded from a prune", "err", err)
		}
	}
	rememberSnapshots(ctx, r, state, log)
	warnPendingRequests(ctx, r, log)
	// Every change to the head passes through the kernel, so its caches
	// stay true: let it keep entries, attributes and misses for a while.
	cacheFor := headCacheTimeout
	opts.EntryTimeout, opts.AttrTimeout, opts.NegativeTimeout = &cacheFor, &cacheFor, &cacheFor
	counts, saveCounts := requestCounts(log)
	defer saveCounts()
	server, err := h.Mount(mp, opts, counts.Observe(f.service.observer()))
	if err != nil {
		return fmt.Errorf("mount %s: %w", mp, err)
	}
	cfg := daemon.Config{
		Mountpoint: mp, RunDir: runDir, Server: server, Log: log, Head: h,
		SnapshotEvery: f.every, CheckpointEvery: f.checkpointEvery, StopTimeout: f.stopTimeout,
		Describe: describeForClient, Events: f.events, Guard: r,
	}
	if state != nil {
		cfg.Checkpoints = cp
	}
	f.service.configure(&cfg)
	raiseReadahead(mp, log)
	cfg.Ready = func() { f.announce(log, mp, "") }
	err = daemon.New(cfg).Run(ctx)
	rememberSnapshots(context.WithoutCancel(ctx), r, state, log)
	return err
}

func mountSnapshot(ctx context.Context, r *repo.Repository, f *mountFlags, mp string, opts *fusefs.Options, log *slog.Logger) error {
	s, err := r.FindSnapshotAsOf(ctx, f.snapshot, f.asOf.t)
	if err != nil {
		return err
	}
	hour := time.Hour
	opts.EntryTimeout, opts.AttrTimeout = &hour, &hour
	opts.Options = append(opts.Options, "ro")
	counts, saveCounts := requestCounts(log)
	defer saveCounts()
	raw := fs.Timed(fs.Handleless(fusefs.NewNodeFS(fs.NewSnapshotRoot(r, log, s), opts)), counts.Observe(f.service.observer()))
	server, err := fs.Serve(mp, raw, &opts.MountOptions)
	if err != nil {
		return fmt.Errorf("mount %s: %w", mp, err)
	}
	raiseReadahead(mp, log)
	cfg := daemon.Config{Mountpoint: mp, RunDir: runDir, Server: server, Log: log, Describe: describeForClient, Events: f.events,
		Ready: func() { f.announce(log, mp, s.ID) }}
	f.service.configure(&cfg)
	return daemon.New(cfg).Run(ctx)
}

// announce says the mount serves: a line on stderr that scripts (and the
// tests) wait for, or with --log-format json a log record, so that every
// line the daemon writes is JSON. A service manager hears READY=1 instead.
func (f *mountFlags) announce(log *slog.Logger, mp, snapshot string) {
	if f.logFormat == logJSON {
		if snapshot == "" {
			log.Info("mounted", "mountpoint", mp)
		} else {
			log.Info("mounted", "mountpoint", mp, "snapshot", snapshot, "mode", "read-only")
		}
		return
	}
	if snapshot == "" {
		inform(os.Stderr, "coffer: mounted %s\n", mp)
	} else {
		inform(os.Stderr, "coffer: mounted %s (snapshot %s, read-only)\n", mp, snapshot)
	}
}

// rememberSnapshots warns of snapshots that vanished since the set last
// seen here, or whose parent is missing, and records the set this mount
// saw, so the next one can tell which vanished since.
func rememberSnapshots(ctx context.Context, r *repo.Repository, state *localstate.Dir, log *slog.Logger) {
	if state == nil {
		return
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		log.Warn("snapshots not listed; the set last seen is not updated", "err", err)
		return
	}
	seen, _, err := state.LastSeen()
	if err != nil {
		log.Warn("the snapshots last seen could not be read", "err", err)
	}
	for _, w := range repo.CheckHistory(snaps, seen) {
		log.Warn(w)
	}
	ids := make([]string, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	if err := state.SaveSeen(ids); err != nil {
		log.Warn("the snapshots seen are not recorded", "err", err)
	}
}

// localState opens this repository's local state directory (--cache-dir,
// or one per repository location under the user's cache directory); nil
// with --cache-dir off.
func (f *mountFlags) localState() (*localstate.Dir, error) {
	loc, err := f.location()
	if err != nil || f.cacheDir == "off" {
		return nil, err
	}
	dir := f.cacheDir
	if dir == "" {
		if dir, err = localstate.DefaultRoot(loc); err != nil {
			return nil, fmt.Errorf("no cache directory: use --cache-dir DIR or --cache-dir off: %w", err)
		}
	}
	return localstate.OpenDir(dir)
}

// diskCache opens the on-disk cache of encrypted blocks for S3
// repositories; a local repository is its own disk cache.
func (f *mountFlags) diskCache(state *localstate.Dir) (*cache.DiskCache, error) {
	loc, err := f.location()
	if err != nil || !strings.HasPrefix(loc, "s3://") || state == nil {
		return nil, err
	}
	c, err := cache.NewDiskCache(state.Blocks(), f.diskMB<<20)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", state.Blocks(), err)
	}
	return c, nil
}
