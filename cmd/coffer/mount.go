package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"coffer/cache"
	"coffer/fs"
	"coffer/repo"
)

type mountFlags struct {
	repoFlags
	snapshot        string
	allowOther      bool
	every           time.Duration
	checkpointEvery time.Duration
	cacheMB         int64
	cacheDir        string
	diskMB          int64
}

func newMountCmd() *cobra.Command {
	var f mountFlags
	c := &cobra.Command{
		Use:   "mount --repo URL MOUNTPOINT",
		Short: "Mount the repository's head (or one snapshot, read-only) in the foreground",
		Long: `Mount the repository at MOUNTPOINT and serve it until unmounted. It runs in
the foreground and logs to stderr, as a systemd unit wants.

The mount's root is the head: the next snapshot, writable, starting as a
copy of the latest snapshot. A new file may be written in any order until
its last handle closes; from then on its bytes are fixed (open it with
O_TRUNC or rename over it to replace it). Snapshots are under
MOUNTPOINT/.snapshots/<UTC time>/ and .snapshots/latest; they are
read-only and not listed by ls, find or rsync.

SIGINT or SIGTERM commits a snapshot if the head changed, then unmounts.
'coffer umount MOUNTPOINT' does the same from another shell.

With --snapshot ID|latest, one snapshot is mounted read-only instead, for
restores on any machine that holds the key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMount(cmd.Context(), &f, args[0])
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&f.snapshot, "snapshot", "", "mount this snapshot (ID, ID prefix, time name or 'latest') read-only")
	fl.BoolVar(&f.allowOther, "allow-other", false, "let other users access the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	fl.DurationVar(&f.every, "snapshot-every", 0, "also commit a snapshot at this interval when the head changed (e.g. 1h)")
	fl.DurationVar(&f.checkpointEvery, "checkpoint-every", 30*time.Second, "save the head under --cache-dir this often when it changed, so a crashed daemon's successor resumes it (0: never)")
	fl.Int64Var(&f.cacheMB, "cache-size", 64, "memory for decrypted blocks, in MiB")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "keep encrypted blocks read from S3 here (default $XDG_CACHE_HOME/coffer or ~/.cache/coffer; \"off\" to disable)")
	fl.Int64Var(&f.diskMB, "cache-dir-size", 1024, "bound on --cache-dir, in MiB")
	return c
}

func runMount(ctx context.Context, f *mountFlags, arg string) error {
	mp, err := filepath.Abs(arg)
	if err != nil {
		return err
	}
	log := f.logger()
	if addr := os.Getenv("COFFER_PPROF"); addr != "" {
		// Profiling for developers: COFFER_PPROF=127.0.0.1:6060.
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(addr, nil)) }()
	}
	if err := clearStale(ctx, mp, log); err != nil {
		return err
	}
	// Keep the heap near its working set: the daemon must stay small
	// however much is written through it. The block cache comes on top.
	debug.SetMemoryLimit((96 + f.cacheMB) << 20)
	root, err := f.cacheRoot()
	if err != nil {
		return err
	}
	sealed, err := f.sealedCache(root)
	if err != nil {
		return err
	}
	r, err := f.open(ctx, repo.Options{Logger: log, CacheBytes: f.cacheMB << 20, SealedCache: sealed})
	if err != nil {
		return err
	}
	defer r.Close()

	opts := &fusefs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:   f.allowOther,
			FsName:       "coffer",
			Name:         "coffer",
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			DirectMount:  true,
			// coffer serves reads from memory; splicing them through a
			// pipe gains nothing and fails noisily for 1 MiB requests.
			DisableSplice: true,
			Debug:         os.Getenv("COFFER_FUSE_DEBUG") != "",
			Options:       permissionOptions(f.allowOther),
			// O_TRUNC must reach Open: a committed file may be opened
			// for writing only to be replaced.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | capHandleKillprivV2,
			// POSIX ACLs travel as system.posix_acl_* xattrs and are
			// kept in snapshots (rsync -A); the kernel enforces them.
			EnableAcl:            true,
			EnableSymlinkCaching: true,
		},
		NullPermissions: true,
	}
	if f.snapshot != "" {
		return mountSnapshot(ctx, r, f, mp, opts, log)
	}
	host, _ := os.Hostname()
	cp := checkpointFileIn(root)
	h, err := fs.NewHead(ctx, r, fs.HeadOptions{Logger: log, Host: host, Resume: cp.load(r, log)})
	if err != nil {
		return err
	}
	// Every change to the head passes through the kernel, so its caches
	// stay true: let it keep entries, attributes and misses for a while.
	cacheFor := headCacheTimeout
	opts.EntryTimeout, opts.AttrTimeout, opts.NegativeTimeout = &cacheFor, &cacheFor, &cacheFor
	server, err := h.Mount(mp, opts)
	if err != nil {
		return fmt.Errorf("mount %s: %w", mp, err)
	}
	d := &daemon{h: h, r: r, checkpoint: cp, server: server, mp: mp, log: log, done: make(chan struct{})}
	stop, err := serveControl(ctx, mp, d.control)
	if err != nil {
		_ = server.Unmount()
		return err
	}
	defer stop()
	raiseReadahead(mp, log)
	fmt.Fprintf(os.Stderr, "coffer: mounted %s\n", mp)
	return d.run(ctx, f.every, f.checkpointEvery)
}

func mountSnapshot(ctx context.Context, r *repo.Repository, f *mountFlags, mp string, opts *fusefs.Options, log *slog.Logger) error {
	s, err := r.FindSnapshot(ctx, f.snapshot)
	if err != nil {
		return err
	}
	hour := time.Hour
	opts.EntryTimeout, opts.AttrTimeout = &hour, &hour
	opts.Options = append(opts.Options, "ro")
	server, err := fusefs.Mount(mp, fs.NewSnapshotRoot(r, log, s), opts)
	if err != nil {
		return fmt.Errorf("mount %s: %w", mp, err)
	}
	stop, err := serveControl(ctx, mp, func(ctx context.Context, req controlRequest) (controlReply, func()) {
		switch req.Op {
		case "ping":
			return controlReply{}, nil
		case "umount":
			if err := server.Unmount(); err != nil {
				return controlReply{Error: "unmount " + mp + ": " + err.Error() + " (is a process still using it? see fuser -vm " + mp + ")"}, nil
			}
			return controlReply{}, nil
		}
		return controlReply{Error: mp + " is a read-only snapshot mount"}, nil
	})
	if err != nil {
		_ = server.Unmount()
		return err
	}
	defer stop()
	raiseReadahead(mp, log)
	fmt.Fprintf(os.Stderr, "coffer: mounted %s (snapshot %s, read-only)\n", mp, s.ID)
	go func() {
		<-ctx.Done()
		unmount(server, mp, log)
	}()
	server.Wait()
	// Let a `coffer umount` that caused this read its reply.
	time.Sleep(100 * time.Millisecond)
	return nil
}

// clearStale unmounts what a killed coffer left at mp ("transport endpoint
// is not connected"), and refuses a mountpoint another coffer serves.
func clearStale(ctx context.Context, mp string, log *slog.Logger) error {
	err := probeMount(mp)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		fmt.Fprintf(os.Stderr, "coffer: clearing the stale mount at %s left by a coffer that stopped without unmounting\n", mp)
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("clear stale mount at %s: %w", mp, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	}
	if isMounted(mp) {
		if _, err := callControl(ctx, mp, controlRequest{Op: "ping"}); err == nil || !errors.Is(err, errNotMounted) {
			return fmt.Errorf("%s is already mounted by a running coffer", mp)
		}
		return fmt.Errorf("%s is already a mountpoint of something else", mp)
	}
	return nil
}

// isMounted reports whether mp is a mountpoint, from /proc/self/mountinfo.
func isMounted(mp string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && unescapeMount(fields[4]) == mp {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// capHandleKillprivV2 is Linux's FUSE_HANDLE_KILLPRIV_V2: the kernel stops
// asking for security.capability before every write. coffer's files are
// written only while new, by their creator, so there is no privilege to
// kill.
const capHandleKillprivV2 = 1 << 28

// cacheRoot is the directory of this repository's local state: blocks/,
// the disk cache of sealed blocks read from S3, and head, the head's
// checkpoint. It is "" with --cache-dir off.
func (f *mountFlags) cacheRoot() (string, error) {
	loc, err := f.location()
	if err != nil || f.cacheDir == "off" {
		return "", err
	}
	dir := f.cacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory: use --cache-dir DIR or --cache-dir off: %w", err)
		}
		sum := sha256.Sum256([]byte(loc))
		dir = filepath.Join(base, "coffer", hex.EncodeToString(sum[:8]))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	return dir, nil
}

// sealedCache opens the on-disk cache of encrypted blocks for S3
// repositories; a local repository is its own disk cache.
func (f *mountFlags) sealedCache(root string) (repo.SealedCache, error) {
	loc, err := f.location()
	if err != nil || !strings.HasPrefix(loc, "s3://") || root == "" {
		return nil, err
	}
	dir := filepath.Join(root, "blocks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	c, err := cache.NewDiskCache(dir, f.diskMB<<20)
	if err != nil {
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	return c, nil
}

// headCacheTimeout is how long the kernel may trust what it learnt of the
// head. Within one rsync run, each name is looked up about twice.
const headCacheTimeout = time.Minute

// raiseReadahead lets the kernel read ahead up to 4 MiB on the mount (its
// default for FUSE is 128 KiB), so sequential restores keep several blocks
// in flight. It needs root; without it the default stays.
func raiseReadahead(mp string, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(mp, &st); err != nil {
		return
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(path, []byte("4096"), 0o644); err != nil {
		log.Debug("readahead unchanged", "err", err)
	}
}

// permissionOptions asks the kernel to check permissions (and ACLs) when
// other users may use the mount. Without --allow-other only the mounting
// user gets in, and the checks would cost an attribute refresh on many
// operations for nothing.
func permissionOptions(allowOther bool) []string {
	if allowOther {
		return []string{"default_permissions"}
	}
	return nil
}

// probeMount asks the filesystem at mp for its statistics. Unlike stat,
// which the kernel may answer from its cache, statfs always reaches a FUSE
// daemon, so a dead one shows as ENOTCONN.
func probeMount(mp string) error {
	var st unix.Statfs_t
	return unix.Statfs(mp, &st)
}
