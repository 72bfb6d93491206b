package main

import (
	"bufio"
	"encoding/json"
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
		Use:   "diff --repo URL SNAPSHOT-A SNAPSHOT-B",
		Short: "Show what changed from one snapshot to another",
		Long: `Show every path that differs from SNAPSHOT-A to SNAPSHOT-B (each anything
'coffer snapshots' shows: latest, a NAME, the TIME, an ID or a prefix), one
per line, as restic does:

  +  added            -  removed
  M  contents changed (a file's data, a symlink's target, a device's numbers)
  U  metadata only (mode, owner, mtime, extended attributes)

then a summary. A directory added or removed is listed with everything
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
			names := repo.NameSnapshots(all)
			var pair [2]*repo.Snapshot
			for i, ref := range args {
				if pair[i], err = repo.FindAmong(all, names, ref); err != nil {
					return err
				}
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(out)
			damage := damageWarner(cmd)
			st, err := inspect.Diff(cmd.Context(), r, pair[0], pair[1], damage.warn, func(c inspect.Change) error {
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
