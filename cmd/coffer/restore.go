package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"coffer/bytesize"
	"coffer/progress"
	"coffer/repo"
	"coffer/restore"
)

// restoreFlags are `coffer restore`'s own flags.
type restoreFlags struct {
	repoFlags
	include, exclude []string
	asOf             asOfFlag
	dryRun           bool
	overwrite        string
	asJSON           bool
	quiet            bool
}

func newRestoreCmd() *cobra.Command {
	var f restoreFlags
	c := &cobra.Command{
		Use:   "restore SNAPSHOT[:PATH] TARGET --repo URL",
		Short: "Restore a snapshot, or part of it, into a directory, without a mount",
		Long: `Restore SNAPSHOT (or the directory or file PATH in it) into TARGET, reading
the repository directly: no FUSE mount is needed, so it works in a container
without /dev/fuse, on a rescue system, and as a user who is not root.

SNAPSHOT is anything 'coffer mount --snapshot' takes: latest, an ID or ID
prefix, a name under .snapshots, or the time 'coffer snapshots' prints.
A directory's contents go into TARGET (made if missing), and its own owner,
mode, times and attributes onto TARGET; a file is restored as TARGET/NAME.

Everything is restored exactly: contents, owners (when run as root; others
keep their own), modes, nanosecond times, extended attributes and POSIX
ACLs, hard links as links, symlinks, fifos, devices and sockets, and
sparse files stay sparse (all-zero pages are left as holes). Blocks are
fetched, authenticated and written in parallel, with neighbouring blocks of
a pack read by one ranged GET, in bounded memory.

Patterns (--include, --exclude; repeatable) follow restic: they match
paths from the top of what is restored ("/" is TARGET), "/" anchors a
pattern at the top, "*" and "?" match within a name, "**" any number of
directories, and a pattern that matches a directory matches all beneath it.

--overwrite says what to do with a file already in TARGET: always replace
it (the default), keep it if its size and contents already match
(if-changed: a restore that was stopped can be run again and finishes
where it stopped, fetching only what is missing), or never touch it.

A block or directory listing that cannot be read or fails authentication
is reported with the file it belongs to; the restore goes on with the rest
and exits with status 7. A file with a missing block keeps permissions
0600 and the time of the restore.

With --json, progress and the summary are JSON lines on stdout (as restic
prints them: message_type status, error, summary); on a terminal a progress
bar is drawn on stderr unless --quiet.

Examples:
  coffer restore latest /srv/restore
  coffer restore latest:/etc/nginx /tmp/nginx --overwrite if-changed
  coffer restore 2026-03-01T02-00-00Z /srv --include '/www/**' --exclude '*.log'`,
		Args: cobra.ExactArgs(2),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			return f.run(cmd.Context(), cmd, r, args[0], args[1])
		}),
	}
	f.register(c)
	fl := c.Flags()
	fl.StringArrayVar(&f.include, "include", nil, "restore only paths matching this pattern (repeatable)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out paths matching this pattern (repeatable)")
	fl.Var(&f.asOf, "as-of", "pick SNAPSHOT among "+asOfUsage)
	fl.BoolVar(&f.dryRun, "dry-run", false, "count what would be restored and write nothing")
	fl.StringVar(&f.overwrite, "overwrite", "always", "files already in TARGET: always, if-changed (keep those whose size and contents match) or never")
	fl.BoolVar(&f.asJSON, "json", false, "print progress and the summary as JSON lines")
	return c
}

func (f *restoreFlags) run(ctx context.Context, cmd *cobra.Command, r *repo.Repository, ref, target string) error {
	over, err := restore.ParseOverwrite(f.overwrite)
	if err != nil {
		return usageError{err}
	}
	filter, err := restore.NewFilter(f.include, f.exclude)
	if err != nil {
		return usageError{err}
	}
	node, _, err := findNode(ctx, r, ref, f.asOf.t)
	if err != nil {
		return err
	}
	f.quiet = progress.Quiet // the global --quiet: only errors, no bar
	out := newRestoreOutput(cmd.OutOrStdout(), cmd.ErrOrStderr(), f.asJSON, f.quiet)
	x := restore.New(r, restore.Options{Filter: filter, Overwrite: over, DryRun: f.dryRun, OnError: out.problem})
	stop := out.follow(x)
	sum, err := x.Restore(ctx, node, target)
	stop()
	out.summary(sum, f.dryRun)
	if errors.Is(err, restore.ErrIncomplete) {
		return incompleteError{fmt.Errorf("%w: %d problems, listed above", err, sum.Errors)}
	}
	return err
}

// findNode resolves SNAPSHOT[:PATH] (among the snapshots uploaded by
// asOf, when set) to the node at PATH and PATH itself.
func findNode(ctx context.Context, r *repo.Repository, ref string, asOf time.Time) (repo.Node, string, error) {
	s, p, err := r.FindSnapshotPath(ctx, ref, asOf)
	if err != nil {
		return repo.Node{}, "", err
	}
	node, err := r.LookupPath(ctx, s, p)
	return node, p, err
}

// restoreOutput prints a restore's problems, progress and summary, as
// text or JSON lines.
type restoreOutput struct {
	stdout, stderr io.Writer
	json, quiet    bool
	mu             sync.Mutex // one line at a time
}

func newRestoreOutput(stdout, stderr io.Writer, asJSON, quiet bool) *restoreOutput {
	return &restoreOutput{stdout: stdout, stderr: stderr, json: asJSON, quiet: quiet}
}

func (o *restoreOutput) line(v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, _ := json.Marshal(v)
	fmt.Fprintf(o.stdout, "%s\n", b)
}

func (o *restoreOutput) problem(p string, err error) {
	if o.json {
		o.line(struct {
			Type  string `json:"message_type"`
			Item  string `json:"item"`
			Error string `json:"error"`
		}{"error", p, err.Error()})
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.stderr, "coffer: error: %s: %s\n", p, oneLine(err.Error()))
}

// restoreStatus is one JSON progress line.
type restoreStatus struct {
	Type        string  `json:"message_type"`
	Seconds     float64 `json:"seconds_elapsed"`
	PercentDone float64 `json:"percent_done"`
	TotalFiles  int64   `json:"total_files,omitempty"`
	TotalBytes  int64   `json:"total_bytes,omitempty"`
	restore.Counts
}

// follow reports x's progress until the returned function is called:
// a JSON status line a second with --json, else a bar on a terminal.
func (o *restoreOutput) follow(x *restore.Restorer) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	bar := newRestoreBar(o, x)
	wg.Go(func() {
		// The bar moves four times a second, JSON lines once.
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				bar.done()
				return
			case <-tick.C:
			}
			c, files, bytes := x.Progress()
			if o.json && !o.quiet && n%4 == 0 {
				o.line(restoreStatus{Type: "status", Seconds: time.Since(start).Seconds(), Counts: c,
					TotalFiles: files, TotalBytes: bytes, PercentDone: fraction(c, bytes)})
			}
			bar.update(c)
		}
	})
	return func() { close(done); wg.Wait() }
}

func fraction(c restore.Counts, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return min(1, float64(c.Bytes+c.BytesSkipped)/float64(total))
}

func (o *restoreOutput) summary(sum restore.Summary, dryRun bool) {
	if o.json {
		o.line(struct {
			Type string `json:"message_type"`
			restore.Summary
			Seconds float64 `json:"seconds_elapsed"`
			DryRun  bool    `json:"dry_run,omitempty"`
		}{"summary", sum, sum.Duration.Seconds(), dryRun})
		return
	}
	if o.quiet {
		return
	}
	verb := "restored"
	if dryRun {
		verb = "would restore"
	}
	line := fmt.Sprintf("%s %d files (%s), %d directories, %d other entries", verb, sum.Files,
		bytesize.IEC(uint64(sum.Bytes)), sum.Dirs, sum.Others)
	if sum.FilesSkipped > 0 {
		line += fmt.Sprintf("; kept %d already there (%s)", sum.FilesSkipped, bytesize.IEC(uint64(sum.BytesSkipped)))
	}
	if sum.Errors > 0 {
		line += fmt.Sprintf("; %d problems", sum.Errors)
	}
	fmt.Fprintf(o.stderr, "coffer: %s in %s\n", line, sum.Duration.Round(time.Millisecond))
}
