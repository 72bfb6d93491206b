package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"coffer/bytesize"
	"coffer/inspect"
	"coffer/repo"
)

func newDiffCmd() *cobra.Command {
	var f repoFlags
	var asOf asOfFlag
	var asJSON bool
	c := &cobra.Command{
		Use:   "diff --repo URL SNAPSHOT-A[:PATH] SNAPSHOT-B[:PATH]",
		Short: "Show what changed from one snapshot to another",
		Long: `Show every path that differs from SNAPSHOT-A to SNAPSHOT-B (each anything
'coffer snapshots' shows: latest, a NAME, the TIME, an ID or a prefix), one
per line, as restic does:

  +  added            -  removed
  M  contents changed (a file's data, a symlink's target, a device's numbers)
  U  metadata only (mode, owner, mtime, extended attributes)

then a summary. With :PATH (the same on both sides), only what is at and
beneath PATH is compared: 'coffer diff 2026-01-01T02:00:00Z:/etc latest:/etc'.
A directory added or removed is listed with everything
beneath it; a path whose type changed is removed and added. Directories
whose trees are the same are not read, so a diff costs what changed. Atime
and ctime are not compared. --json prints one JSON object per line per
change, then one with "message_type": "statistics"; the README lists the
fields. A directory whose tree is damaged or missing in either snapshot is
named in a warning and left out; the diff goes on, and exits 7 at the end.`,
		Args: cobra.ExactArgs(2),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			all, err := listSnapshots(cmd, r, asOf.t)
			if err != nil {
				return err
			}
			pair, p, nodes, err := diffSides(cmd.Context(), r, all, args)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(out)
			damage := damageWarner(cmd)
			st, err := inspect.DiffNodes(cmd.Context(), r, p, nodes[0], nodes[1], damage.warn, func(c inspect.Change) error {
				if asJSON {
					return enc.Encode(c.JSON())
				}
				_, err := fmt.Fprintln(out, c.Line())
				return err
			})
			if err == nil {
				if asJSON {
					err = enc.Encode(inspect.StatsJSON{MessageType: "statistics", From: pair[0].ID, To: pair[1].ID, DiffStats: st})
				} else {
					printDiffStats(out, st)
				}
			}
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			if err == nil {
				err = damage.result("diff")
			}
			return err
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line per change, then the statistics")
	c.Flags().Var(&asOf, "as-of", asOfUsage)
	return c
}

func printDiffStats(w *bufio.Writer, st inspect.DiffStats) {
	fmt.Fprintf(w, "\nAdded:    %d files, %d directories, %d others, %s\n", st.Added.Files, st.Added.Dirs, st.Added.Others, bytesize.IEC(st.Added.Bytes))
	fmt.Fprintf(w, "Removed:  %d files, %d directories, %d others, %s\n", st.Removed.Files, st.Removed.Dirs, st.Removed.Others, bytesize.IEC(st.Removed.Bytes))
	fmt.Fprintf(w, "Changed:  %d (contents), %d (metadata only)\n", st.Changed, st.Metadata)
}

// diffSides resolves the two SNAPSHOT[:PATH] arguments of diff among all:
// the snapshots, the one path they share, and the node each has there
// (nil where the path names nothing; not both).
func diffSides(ctx context.Context, r *repo.Repository, all []*repo.Snapshot, args []string) ([2]*repo.Snapshot, string, [2]*repo.Node, error) {
	var pair [2]*repo.Snapshot
	var nodes [2]*repo.Node
	var paths [2]string
	names := repo.NameSnapshots(all)
	for i, arg := range args {
		s, p, err := repo.SplitSnapshotPath(all, names, arg)
		if err != nil {
			return pair, "", nodes, err
		}
		pair[i], paths[i] = s, p
	}
	if paths[0] != paths[1] {
		return pair, "", nodes, usageError{fmt.Errorf("diff compares one path in two snapshots: %s and %s differ (give the same :PATH on both sides)", paths[0], paths[1])}
	}
	for i, s := range pair {
		n, err := r.LookupPath(ctx, s, paths[0])
		if errors.Is(err, repo.ErrNoPath) {
			continue
		}
		if err != nil {
			return pair, "", nodes, err
		}
		nodes[i] = &n
	}
	if nodes[0] == nil && nodes[1] == nil {
		return pair, "", nodes, fmt.Errorf("%s: %w in either snapshot", paths[0], repo.ErrNoPath)
	}
	return pair, paths[0], nodes, nil
}
