package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"coffer/daemon"
	"coffer/repo"
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
	c.Flags().StringSliceVar(&tags, "tag", nil, "tag the snapshot (repeatable)")
	return c
}

// snapshotJSON is one line of `coffer snapshots --json`.
type snapshotJSON struct {
	ID    string   `json:"id"`
	Time  string   `json:"time"`
	Name  string   `json:"name"`
	Host  string   `json:"host"`
	Tags  []string `json:"tags"`
	Files uint64   `json:"files"`
	Size  uint64   `json:"size"`
}

func newSnapshotsCmd() *cobra.Command {
	var f repoFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "snapshots --repo URL",
		Short: "List the repository's snapshots",
		Args:  cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			snaps, err := r.Snapshots(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]snapshotJSON, 0, len(snaps))
			for _, s := range snaps {
				tags := s.Tags
				if tags == nil {
					tags = []string{}
				}
				out = append(out, snapshotJSON{ID: s.ID, Time: s.Time.UTC().Format("2006-01-02T15:04:05Z"),
					Name: s.Time.UTC().Format(repo.SnapshotTimeFormat), Host: s.Host, Tags: tags, Files: s.Files, Size: s.Size})
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTIME (UTC)\tHOST\tTAGS\tFILES\tSIZE")
			for _, s := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID[:16], s.Time, s.Host, strings.Join(s.Tags, ","), s.Files, humanBytes(s.Size))
			}
			return w.Flush()
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
