package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"coffer/bytesize"
	"coffer/daemon"
	"coffer/duration"
)

// commitJSON is `coffer snapshot --json`: the snapshot committed and what
// it cost.
type commitJSON struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Files   uint64    `json:"files"`
	Size    uint64    `json:"size"`       // the files' logical bytes
	Added   int64     `json:"data_added"` // bytes the store received since the previous commit
	Seconds float64   `json:"seconds_elapsed"`
}

func newSnapshotCmd() *cobra.Command {
	var tags []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "snapshot MOUNTPOINT",
		Short: "Commit the mount's head as a new snapshot and print its ID",
		Long: `Commit everything written to MOUNTPOINT (files closed before now) as a new
read-only snapshot. It returns only when the snapshot and everything it
references are durable in the store, prints the snapshot's ID, and exits
non-zero on any failure. A nightly backup is:

  rsync -a --delete /srv/ MOUNTPOINT/srv/ && coffer snapshot MOUNTPOINT

A summary goes to stderr (--quiet drops it): the files in the snapshot,
the bytes the store received for it (new data, after deduplication,
encrypted), and how long the commit took. --json prints one object on
stdout instead of the ID: id, time, files, size, data_added,
seconds_elapsed.`,
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
			return printCommit(cmd.OutOrStdout(), cmd.ErrOrStderr(), reply, asJSON)
		},
	}
	c.Flags().StringSliceVar(&tags, "tag", nil, "tag the snapshot (repeatable; a,b gives two tags); coffer snapshots --tag T lists them")
	c.Flags().BoolVar(&asJSON, "json", false, "print the snapshot and what it cost as one JSON object")
	return c
}

// printCommit prints the ID (or the JSON object) on out and the summary
// line on errw.
func printCommit(out, errw io.Writer, reply daemon.Reply, asJSON bool) error {
	sum := reply.Summary
	if sum == nil { // a daemon from before summaries
		sum = &daemon.CommitSummary{ID: reply.ID, Time: reply.Time}
	}
	if asJSON {
		return json.NewEncoder(out).Encode(commitJSON{ID: reply.ID, Time: sum.Time, Files: sum.Files, Size: sum.Bytes,
			Added: sum.Stored, Seconds: sum.Took.Seconds()})
	}
	fmt.Fprintln(out, reply.ID)
	if reply.Summary != nil {
		inform(errw, "coffer: snapshot committed: %s, %s; %s new in the store; took %s\n",
			count(int(sum.Files), "file"), bytesize.IEC(sum.Bytes), bytesize.IEC(uint64(max(sum.Stored, 0))),
			duration.Format(sum.Took.Round(time.Millisecond)))
	}
	return nil
}
