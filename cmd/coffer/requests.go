package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"coffer/forget"
	"coffer/repo"
)

// The states of a request in `coffer requests`.
const (
	statePending   = "pending"
	stateDue       = "due, prune will act"
	stateCancelled = "cancelled"
)

// requestJSON is one element of `coffer requests --json`.
type requestJSON struct {
	Key       string                `json:"key"`
	Uploaded  time.Time             `json:"uploaded"` // the store's clock: the delay counts from it
	Due       time.Time             `json:"due"`
	Created   time.Time             `json:"created"` // the requester's clock (informational)
	State     string                `json:"state"`
	Source    string                `json:"source"`
	Host      string                `json:"host"`
	Note      string                `json:"note,omitempty"`
	Snapshots []requestSnapshotJSON `json:"snapshots"`
}

type requestSnapshotJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"` // empty: the snapshot is gone (pruned)
	State string `json:"state"`          // pending, held, cancelled, gone
}

func newRequestsCmd() *cobra.Command {
	var f repoFlags
	var asJSON, all bool
	c := &cobra.Command{
		Use:   "requests --repo URL",
		Short: "List pending deletion requests and when they mature",
		Long: `List the deletion requests that still name a snapshot ('coffer forget'
writes them), oldest first, with the date each matures: the store's upload
time of the request plus the repository's deletion delay, by the store's
clock. A request past that date is "due, prune will act": the next 'coffer
prune' removes its snapshots (those not held). With --all, fully cancelled
requests are listed too.

Anyone holding the repository's key and write access can file a request,
so check that each one was yours; cancel one with 'coffer forget --cancel
REQUEST' (a unique prefix of the key will do).`,
		Args: cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			ctx := cmd.Context()
			snaps, err := r.Snapshots(ctx)
			if err != nil {
				return err
			}
			d, err := r.Deletions(ctx)
			if err != nil {
				return err
			}
			for _, dmg := range r.Damage() {
				fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: skipped %s\n", dmg)
			}
			out := listRequests(d, snaps, all)
			if pending := len(forget.PendingRequests(d)); pending > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "coffer: WARNING: %s. Anyone holding the repository's key can file one:\n"+
					"coffer: check each was yours; cancel with 'coffer forget --cancel REQUEST'.\n", count(pending, "pending deletion request"))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no pending deletion requests")
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "REQUEST\tFILED (UTC)\tDUE (UTC)\tSTATE\tSOURCE\tHOST\tSNAPSHOTS\tNOTE")
			for _, q := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortKey(q.Key), q.Uploaded.Format(listTime),
					q.Due.Format(listTime), q.State, q.Source[:min(8, len(q.Source))], q.Host, describeSnapshots(q.Snapshots), q.Note)
			}
			return w.Flush()
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&all, "all", false, "list fully cancelled requests too")
	return c
}

// listRequests describes d's requests, pending ones (all with all).
func listRequests(d *repo.Deletions, snaps []*repo.Snapshot, all bool) []requestJSON {
	names := map[string]string{}
	for i, n := range repo.NameSnapshots(snaps) {
		names[snaps[i].ID] = n
	}
	out := []requestJSON{}
	for _, req := range d.Requests {
		q := requestJSON{Key: req.Key, Uploaded: req.Uploaded.UTC(), Due: req.Due.UTC(), Created: req.Created.UTC(),
			State: stateCancelled, Source: req.Source, Host: req.Host, Note: req.Note}
		for _, id := range req.Snapshots {
			s := requestSnapshotJSON{ID: id, Name: names[id], State: statePending}
			_, cancelled := req.Cancelled[id]
			switch {
			case cancelled:
				s.State = "cancelled"
			case s.Name == "":
				s.State = "gone"
			case d.Held(id):
				s.State = "held"
			}
			if !cancelled {
				q.State = statePending
				if !req.Due.After(d.Now) {
					q.State = stateDue
				}
			}
			q.Snapshots = append(q.Snapshots, s)
		}
		if q.State != stateCancelled || all {
			out = append(out, q)
		}
	}
	return out
}

// describeSnapshots is a request's snapshots for the table: the pending
// ones' names, and how many are in each other state.
func describeSnapshots(ss []requestSnapshotJSON) string {
	var names []string
	others := map[string]int{}
	for _, s := range ss {
		if s.State == statePending {
			names = append(names, s.Name)
		} else {
			others[s.State]++
		}
	}
	for _, st := range []string{"held", "cancelled", "gone"} {
		if others[st] > 0 {
			names = append(names, fmt.Sprintf("+%d %s", others[st], st))
		}
	}
	return strings.Join(names, " ")
}

// warnPendingRequests logs one WARN line per pending deletion request, so
// that a request filed by someone else is seen where the backups run.
func warnPendingRequests(ctx context.Context, r *repo.Repository, log *slog.Logger) {
	d, err := r.Deletions(ctx)
	if err != nil {
		log.Warn("deletion requests not read", "err", err)
		return
	}
	for _, req := range forget.PendingRequests(d) {
		n := 0
		for _, id := range req.Snapshots {
			if _, cancelled := req.Cancelled[id]; !cancelled {
				n++
			}
		}
		log.Warn("deletion requested: prune removes these snapshots once due unless cancelled",
			"request", req.Key, "snapshots", n, "due", req.Due.UTC().Format(time.RFC3339), "by", req.Host,
			"cancel", "coffer forget --cancel "+shortKey(req.Key))
	}
}
