package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/forget"
	"coffer/objectstore"
	"coffer/repo"
)

// cancelJSON is one cancellation in `coffer forget --cancel --json`.
type cancelJSON struct {
	Cancellation string   `json:"cancellation"`
	Request      string   `json:"request"`
	Snapshots    []string `json:"snapshots"` // empty: all of the request's
}

// runCancel cancels the requests and snapshots args name.
func (o *forgetOptions) runCancel(cmd *cobra.Command, f *repoFlags, r *repo.Repository, args []string) error {
	ctx := cmd.Context()
	d, err := r.Deletions(ctx)
	if err != nil {
		return err
	}
	var whole []*repo.DeletionRequest
	var ids []string
	for _, ref := range args {
		req, rerr := forget.FindRequest(d, ref)
		if errors.Is(rerr, forget.ErrAmbiguousRequest) {
			return usageError{rerr}
		}
		s, serr := r.FindSnapshot(ctx, ref)
		switch {
		case rerr == nil && serr == nil && !strings.HasPrefix(ref, forget.RequestPrefix):
			return usageError{fmt.Errorf("%q names request %s and snapshot %s: write requests/%s for the request, or more of the snapshot's ID", ref, req.Key, s.ID, ref)}
		case rerr == nil:
			whole = append(whole, req)
		case serr == nil:
			ids = append(ids, s.ID)
		case len(d.RequestsFor(ref)) > 0: // a snapshot gone already, named by its full ID
			ids = append(ids, ref)
		case errors.Is(serr, repo.ErrAmbiguous):
			return usageError{serr}
		default:
			return fmt.Errorf("%q names no deletion request and no snapshot ('coffer requests --all' lists the requests): %w", ref, serr)
		}
	}
	todo := forget.Cancellations(d, whole, ids)
	if len(todo) == 0 {
		return fmt.Errorf("nothing to cancel: pending request naming %s: %w ('coffer requests' lists them)", strings.Join(args, ", "), objectstore.ErrNotFound)
	}
	a := f.author()
	var out []cancelJSON
	for _, c := range todo {
		key, err := r.CancelDeletion(ctx, a, c.Request, c.Snapshots)
		if err != nil {
			return err
		}
		f.recordDeletion(cmd, r, audit.KindCancel, audit.DeletionChange{Object: key, Snapshots: c.Snapshots, Targets: []string{c.Request.Key}})
		snaps := c.Snapshots
		if snaps == nil {
			snaps = []string{}
		}
		out = append(out, cancelJSON{Cancellation: key, Request: c.Request.Key, Snapshots: snaps})
	}
	if o.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, c := range out {
		what := "all of it"
		if len(c.Snapshots) > 0 {
			what = fmt.Sprintf("%s (%s)", count(len(c.Snapshots), "snapshot"), strings.Join(shortIDs(c.Snapshots), ", "))
		}
		fmt.Fprintf(cmd.OutOrStdout(), "cancelled %s of %s: %s\n", what, c.Request, c.Cancellation)
	}
	return nil
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id[:min(8, len(id))]
	}
	return out
}
