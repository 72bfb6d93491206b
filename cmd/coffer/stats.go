package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"coffer/bytesize"
	"coffer/inspect"
	"coffer/repo"
)

func newStatsCmd() *cobra.Command {
	var f repoFlags
	var flt filterFlags
	var asOf asOfFlag
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats --repo URL [SNAPSHOT]",
		Short: "Show how much the snapshots hold, store and share",
		Long: `Show, for every snapshot (or SNAPSHOT alone, or those --tag, --host and
--latest pick): the files and their logical size (what restoring each would
write, summed), the bytes the store holds for them (each distinct block once,
encrypted, trees included), the deduplication ratio (logical / stored), and
what each snapshot added: the stored bytes of the blocks no older snapshot
uses. The line "repository" is every block the index names, used or not.

Snapshots are walked oldest first, reading each directory's tree once
however many snapshots share it, so the cost follows what changed, not the
number of snapshots. A tree that cannot be read or a block in no index is
named in a warning and leaves the figures short; then the exit status is
7. --json prints one object; the README lists the fields.`,
		Args: cobra.MaximumNArgs(1),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			all, snaps, names, err := flt.list(cmd, r, asOf.t)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				s, err := repo.FindAmong(snaps, names, args[0])
				if err != nil {
					return err
				}
				i := slices.Index(snaps, s)
				snaps, names = snaps[i:i+1], names[i:i+1]
			}
			st, err := inspect.Compute(cmd.Context(), r, all, snaps, names)
			if err != nil {
				return err
			}
			for _, p := range st.Problems {
				fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: %s\n", p)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(st)
			} else {
				err = printStats(cmd, st)
			}
			if err == nil && len(st.Problems) > 0 {
				err = incompleteError{fmt.Errorf("stats: %d problems, named above, left the figures short (coffer check says more)", len(st.Problems))}
			}
			return err
		}),
	}
	f.register(c)
	flt.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().Var(&asOf, "as-of", asOfUsage)
	return c
}

func printStats(cmd *cobra.Command, st *inspect.Stats) error {
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Snapshots:\t%d\n", st.Snapshots)
	fmt.Fprintf(w, "Files:\t%d\t(each snapshot's, summed)\n", st.Files)
	fmt.Fprintf(w, "Logical size:\t%s\t(what restoring each would write, summed)\n", bytesize.IEC(st.LogicalBytes))
	fmt.Fprintf(w, "Stored size:\t%s\t(%d distinct blocks, encrypted, trees included)\n", bytesize.IEC(uint64(st.StoredBytes)), st.Blocks)
	fmt.Fprintf(w, "Deduplication:\t%.2fx\t(logical / stored)\n", st.DedupRatio)
	fmt.Fprintf(w, "Repository:\t%s\t(%d blocks in the index, used or not)\n", bytesize.IEC(uint64(st.Repository.StoredBytes)), st.Repository.Blocks)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout())
	w = tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tHOST\tFILES\tSIZE\tADDED")
	for _, s := range st.PerSnapshot {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", s.ID[:16], s.Name, s.Host, s.Files, bytesize.IEC(s.LogicalBytes), bytesize.IEC(uint64(s.AddedBytes)))
	}
	return w.Flush()
}
