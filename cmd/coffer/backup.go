package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"coffer/backup"
	"coffer/bytesize"
	"coffer/duration"
	"coffer/localstate"
	"coffer/progress"
	"coffer/repo"
	"coffer/restore"
)

// backupFlags are `coffer backup`'s own flags.
type backupFlags struct {
	repoFlags
	exclude       []string
	oneFileSystem bool
	tags          []string
	asJSON        bool
}

// backupJSON is `coffer backup --json`: the snapshot and what it cost.
type backupJSON struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Parent    string    `json:"parent,omitempty"`
	Files     uint64    `json:"files"`
	Size      uint64    `json:"size"` // the files' logical bytes
	Dirs      uint64    `json:"dirs"`
	New       uint64    `json:"files_new"`
	Changed   uint64    `json:"files_changed"`
	Unchanged uint64    `json:"files_unmodified"`
	Read      int64     `json:"bytes_read"`
	Added     int64     `json:"data_added"` // bytes the store received
	Errors    int       `json:"errors"`
	Seconds   float64   `json:"seconds_elapsed"`
}

func newBackupCmd() *cobra.Command {
	var f backupFlags
	c := &cobra.Command{
		Use:   "backup SRC... --repo URL",
		Short: "Snapshot local paths straight into the repository, without a mount",
		Long: `Make a snapshot of the local paths SRC without a mount: no FUSE, no daemon,
so it works in a container without /dev/fuse, and it skips the kernel's
round trips, which cost most of the time of an rsync into a mount.

One directory SRC becomes the snapshot's root (its contents at the top, its
own owner, mode and times on the root); several SRC, or a file, are placed
at the top by their base names. The snapshot is the one a mount would
commit for the same files: contents, owners, modes, nanosecond times,
extended attributes and POSIX ACLs, hard links, symlinks, fifos, devices
and sockets. 'coffer mount' shows it as its head afterwards.

The directories are walked in parallel. A file whose size, mtime, change
time and inode are those recorded by the parent snapshot (this host's
latest) is not read again: its blocks are reused, as restic does. Files
read are chunked, deduplicated and encrypted as the mount does.

--exclude patterns (repeatable) follow 'coffer restore': they match paths
from the top of the snapshot ("/" anchors, "*" and "?" within a name, "**"
any directories); a matched directory is left out with all beneath it.
--one-file-system does not descend into filesystems mounted below a SRC
(their mountpoints are kept, empty).

A repository mounted read-write on this machine is refused: a backup would
be a second writer, and the histories would fork. Copy into the mount and
run 'coffer snapshot MOUNTPOINT' instead, or unmount it first.

A file that cannot be read is reported and left out; the snapshot is
still written and the exit status is 7. On a terminal a progress bar is
drawn on stderr; --json prints one summary object on stdout.

Examples:
  coffer backup /srv --repo s3://bucket/web1
  coffer backup /etc /home --exclude '*.tmp' --exclude '/home/*/.cache' --tag nightly`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args)
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out paths matching this pattern (repeatable)")
	fl.BoolVarP(&f.oneFileSystem, "one-file-system", "x", false, "do not cross into other filesystems mounted below a SRC")
	fl.StringSliceVar(&f.tags, "tag", nil, "tag the snapshot (repeatable; a,b gives two tags)")
	fl.BoolVar(&f.asJSON, "json", false, "print the snapshot and what it cost as one JSON object")
	return c
}

func (f *backupFlags) run(cmd *cobra.Command, sources []string) error {
	ctx := cmd.Context()
	exclude, err := restore.NewFilter(nil, f.exclude)
	if err != nil {
		return usageError{err}
	}
	for _, src := range sources {
		if _, err := os.Lstat(src); err != nil {
			return usageError{fmt.Errorf("SRC %s: %w", src, err)}
		}
	}
	log := f.logger()
	state := f.defaultState()
	o := repo.Options{Logger: log}
	if state != nil {
		o.RetainCache = retainCache{state.Retain()}
	}
	r, counter, err := f.openCounted(ctx, o)
	if err != nil {
		return err
	}
	defer r.Close()
	lock, err := localstate.LockWriter(runDir, r.ID(), "coffer backup")
	if errors.Is(err, localstate.ErrLocked) {
		return usageError{fmt.Errorf("%w: coffer backup would be a second writer and fork its history; copy into that mount and run 'coffer snapshot MOUNTPOINT', or unmount it first", err)}
	}
	if err != nil {
		return err
	}
	defer lock.Release()

	host, _ := os.Hostname()
	bo := backup.Options{Exclude: exclude, OneFileSystem: f.oneFileSystem, Host: host, Tags: f.tags, Log: log}
	if bo.Parent, err = backup.HostLatest(ctx, r, host); err != nil {
		return err
	}
	bo.NoParent = bo.Parent == nil
	// The audit log sees a backup as a read-write session, like a mount:
	// prune spares its parent and what it uploads until it ends.
	events := &auditEvents{r: r, log: f.auditLog(r, state, log), counter: counter, mode: "read-write", logger: log,
		mounted: make(chan struct{})}
	base := ""
	if bo.Parent != nil {
		base = bo.Parent.ID
	}
	events.Mounted(ctx, base)
	defer events.Unmounted(context.WithoutCancel(ctx), true) // nothing of a failed backup needs keeping
	started, err := r.StoreNow(ctx)
	if err != nil {
		log.Warn("the store's clock not read at the backup's start; its audit record has no start time", "err", err)
	}
	uploaded := r.Counters().Uploaded

	out := newBackupProgress(cmd.ErrOrStderr())
	bo.Planned, bo.Progress = out.planned, out.add
	bo.OnError = func(p string, err error) {
		out.done()
		fmt.Fprintf(cmd.ErrOrStderr(), "coffer: %s: %v (left out)\n", p, err)
	}
	sum, err := backup.Run(ctx, r, sources, bo)
	out.done()
	if sum == nil {
		return err
	}
	sum.Snapshot.Started = started
	events.Committed(ctx, sum.Snapshot)
	f.printBackup(cmd.OutOrStdout(), cmd.ErrOrStderr(), sum, r.Counters().Uploaded-uploaded)
	if errors.Is(err, backup.ErrIncomplete) {
		return incompleteError{err}
	}
	return err
}

// defaultState is the repository's default local state directory (its
// source ID and retention cache), nil if there is none.
func (f *repoFlags) defaultState() *localstate.Dir {
	loc, err := f.location()
	if err != nil {
		return nil
	}
	root, err := localstate.DefaultRoot(loc)
	if err != nil {
		return nil
	}
	d, err := localstate.OpenDir(root)
	if err != nil {
		return nil
	}
	return d
}

func (f *backupFlags) printBackup(out, errw io.Writer, sum *backup.Summary, added int64) {
	s := sum.Snapshot
	if f.asJSON {
		_ = json.NewEncoder(out).Encode(backupJSON{ID: s.ID, Time: s.Time, Parent: sum.Parent, Files: sum.Files, Size: sum.TotalBytes,
			Dirs: sum.Dirs, New: sum.New, Changed: sum.Changed, Unchanged: sum.Unchanged, Read: sum.BytesRead,
			Added: added, Errors: sum.Errors, Seconds: sum.Took.Seconds()})
		return
	}
	fmt.Fprintln(out, s.ID)
	inform(errw, "coffer: backup committed: %s, %s (%d new, %d changed, %d unchanged); %s read, %s new in the store; took %s\n",
		count(int(sum.Files), "file"), bytesize.IEC(sum.TotalBytes), sum.New, sum.Changed, sum.Unchanged,
		bytesize.IEC(uint64(sum.BytesRead)), bytesize.IEC(uint64(max(added, 0))), duration.Format(sum.Took.Round(time.Millisecond)))
}

// backupProgress draws the bar once the walk has said what is to read.
type backupProgress struct {
	w   io.Writer
	mu  sync.Mutex // guards bar
	bar *progress.Bar
}

func newBackupProgress(w io.Writer) *backupProgress { return &backupProgress{w: w} }

func (p *backupProgress) planned(files, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar = progress.New(p.w, "backup", bytes, files)
}

func (p *backupProgress) add(files, bytes int64) {
	p.mu.Lock()
	bar := p.bar
	p.mu.Unlock()
	bar.Add(files, bytes)
}

func (p *backupProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Done()
	p.bar = nil
}
