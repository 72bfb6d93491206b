package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"coffer/check"
	"coffer/progress"
	"coffer/repo"
)

func newCheckCmd() *cobra.Command {
	var f repoFlags
	var asJSON, readData bool
	var subset string
	c := &cobra.Command{
		Use:   "check --repo URL [--read-data | --read-data-subset N% | n/t] [--json]",
		Short: "Verify the repository: keys, indexes, packs, every snapshot's blocks, the audit chain",
		Long: `check verifies the repository, reading only, and prints one line per finding:
what is wrong, which object, and what to do.

It checks that the config and every key slot read and that revocations are
honoured; that every location an index names lies in a pack the store has,
and that every pack is named by an index (a pack none names is a leftover
of an upload whose index was never written); that every snapshot's trees
read and every block they name (file contents, trees, link tables) is
located; that the audit chain is whole and names every snapshot. It lists
leftovers (packs no snapshot references, unindexed packs) and tampering
(later versions and delete markers, which reads ignore) as warnings, and
snapshots with a pending deletion request.

--read-data also reads every pack whole (four at once, with a progress bar
on a terminal) and authenticates every block in it and its trailer: the
only way to find bit rot before a restore does.
--read-data-subset reads part of them, as restic does: "n/t" reads group n
of t (packs by the first byte of their ID; running 1/t to t/t reads each
pack once), "P%" a random P per cent of the packs.

Exit status: 0 no errors (warnings allowed), 7 errors found, 4 no
repository, 5 the store could not be reached.`,
		Args: cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			o := check.Options{
				ReadData: readData || subset != "",
				Progress: func(packs, bytes int64) check.Progress {
					return progress.New(cmd.ErrOrStderr(), "check: packs read", bytes, packs)
				},
			}
			if subset != "" {
				s, err := check.ParseSubset(subset)
				if err != nil {
					return usageError{err}
				}
				o.Subset = s
			}
			rep, err := check.Run(cmd.Context(), r, o)
			if err != nil {
				return err
			}
			if err := printReport(cmd.OutOrStdout(), rep, asJSON); err != nil {
				return err
			}
			if !rep.OK() {
				return incompleteError{fmt.Errorf("the check found %d errors (listed above)", len(rep.Errors))}
			}
			return nil
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	c.Flags().BoolVar(&readData, "read-data", false, "also read every pack and authenticate every block")
	c.Flags().StringVar(&subset, "read-data-subset", "", `read and authenticate part of the packs: "n/t" (group n of t) or "P%"`)
	return c
}

// report is a result that prints as text for people or JSON for scripts:
// doctor's and check's.
type report interface {
	WriteText(io.Writer) error
	WriteJSON(io.Writer) error
}

// printReport prints rep to w, as JSON if asJSON.
func printReport(w io.Writer, rep report, asJSON bool) error {
	if asJSON {
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w)
}
