package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/doctor"
	"coffer/objectstore/s3"
	"coffer/repo"
)

// The S3 backend answers every probe doctor makes.
var (
	_ doctor.Prober          = (*s3.Store)(nil)
	_ doctor.LifecycleProber = (*s3.Store)(nil)
)

func newDoctorCmd() *cobra.Command {
	var f repoFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor --repo URL",
		Short: "Prove with real requests that the store and these credentials keep the backups safe",
		Long: `doctor checks, with real requests on canary objects under doctor/ (never on
data), each promise the repository's protection rests on, and prints one
line per promise: holds, broken (with what to do), a warning, or not
applicable (a local directory has no versions or bucket settings).

On S3: versioning on; object lock on in the repository's mode; a second
conditional PUT refused; COMPLIANCE retention neither shortened nor switched
to GOVERNANCE; the credentials in use unable to delete a version, place a
delete marker, bypass GOVERNANCE, or change versioning or the lock
configuration; no lifecycle rule deleting noncurrent versions sooner than
the deletion delay (where the provider has lifecycle rules: versitygw has
none). Everywhere: the store's clock within a minute of ours; key
slots and audit records locked; retention at least the deletion delay;
later versions or delete markers on coffer's keys (tampering), listed.

Deletion: the deletion delay and prune margin (a warning when init was
given --unsafe-short-delays); pending deletion requests (a warning: anyone
holding the key can file one; 'coffer requests' lists them, with due
dates); and snapshots rarer than the retention minus the delay (each
snapshot renews the locks that enforce the delay, so with fewer a request
could mature after they lapse).

It exits non-zero if any promise is broken. With the bucket owner's
credentials the "cannot delete" lines are broken, truthfully: give the
server the credentials 'coffer policy' describes.`,
		Args: cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			st, err := f.openStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			p := r.RetentionPolicy()
			rep, err := doctor.Run(cmd.Context(), doctor.Options{
				Store:         st,
				Mode:          p.Mode,
				Retention:     p.Period(),
				DeletionDelay: r.DeletionDelay(),
				Clock:         time.Now,
			})
			if err != nil {
				return err
			}
			rep.Results = append(rep.Results, forgedBlocks(cmd.Context(), r))
			del, err := deletionState(cmd.Context(), r)
			if err != nil {
				return err
			}
			rep.Results = append(rep.Results, doctor.DeletionChecks(del)...)
			log := f.logger()
			if _, err := f.auditLog(r, nil, log).Append(cmd.Context(), audit.Record{Kind: audit.KindDoctor,
				Doctor: &audit.DoctorRun{Passed: !rep.Failed(), Failed: rep.FailedPromises()}}); err != nil {
				log.Warn("the doctor run is not in the audit log", "err", err)
			}
			if err := printReport(cmd.OutOrStdout(), rep, asJSON); err != nil {
				return err
			}
			if failed := rep.FailedPromises(); len(failed) > 0 {
				return fmt.Errorf("doctor: %d promises broken: %s", len(failed), strings.Join(failed, "; "))
			}
			return nil
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// deletionState reads what doctor judges about deletion: the settings,
// the requests still pending for snapshots that exist (a pruned snapshot's
// request stays in the bucket, locked, and asks for nothing any more), and
// the store's upload time of the newest snapshot.
func deletionState(ctx context.Context, r *repo.Repository) (doctor.Deletion, error) {
	dels, err := r.Deletions(ctx)
	if err != nil {
		return doctor.Deletion{}, fmt.Errorf("doctor: read the deletion requests: %w", err)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return doctor.Deletion{}, fmt.Errorf("doctor: list the snapshots: %w", err)
	}
	d := doctor.Deletion{Now: dels.Now, Delay: r.DeletionDelay(), Margin: r.PruneMargin(),
		Unsafe: r.UnsafeDelays(), Retention: r.RetentionPolicy().Period()}
	live := map[string]bool{}
	for _, s := range snaps {
		live[s.ID] = true
		if s.Uploaded.After(d.NewestSnapshot) {
			d.NewestSnapshot = s.Uploaded
		}
	}
	for _, req := range dels.Requests {
		p := doctor.PendingRequest{Key: req.Key, Due: req.Due, Source: req.Source, Host: req.Host}
		for _, id := range req.Snapshots {
			if _, cancelled := req.Cancelled[id]; !cancelled && live[id] {
				p.Snapshots = append(p.Snapshots, id)
				if dels.Held(id) {
					p.Held++
				}
			}
		}
		if len(p.Snapshots) > 0 {
			d.Pending = append(d.Pending, p)
		}
	}
	return d, nil
}

// forgedBlocks reads every copy of the blocks the indexes name more than
// once and says which are forged.
func forgedBlocks(ctx context.Context, r *repo.Repository) doctor.Result {
	n, err := r.CheckDuplicates(ctx)
	var forged []string
	for _, b := range r.BadLocations() {
		if b.Forged {
			forged = append(forged, fmt.Sprintf("block %s in pack %s at %d+%d, named by %s", b.Block, b.Pack, b.Off, b.Len, orUnknown(b.Index)))
		}
	}
	return doctor.BlockCheck(n, forged, err)
}

func orUnknown(s string) string {
	if s == "" {
		return "no index (found by this process)"
	}
	return s
}
