package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"coffer/daemon"
)

func newSnapshotCmd() *cobra.Command {
	var tags []string
	c := &cobra.Command{
		Use:   "snapshot MOUNTPOINT",
		Short: "Commit the mount's head as a new snapshot and print its ID",
		Long: `Commit everything written to MOUNTPOINT (files closed before now) as a new
read-only snapshot. It returns only when the snapshot and everything it
references are durable in the store, prints the snapshot's ID, and exits
non-zero on any failure. A nightly backup is:

  rsync -a --delete /srv/ MOUNTPOINT/srv/ && coffer snapshot MOUNTPOINT`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mp, err := resolveMountpoint(args[0])
			if err != nil {
				return err
			}
			reply, err := callControl(cmd.Context(), mp, daemon.Request{Op: "snapshot", Tags: tags})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), reply.ID)
			return nil
		},
	}
	c.Flags().StringSliceVar(&tags, "tag", nil, "tag the snapshot (repeatable; a,b gives two tags); coffer snapshots --tag T lists them")
	return c
}
