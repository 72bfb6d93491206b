package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coffer/doctor"
	"coffer/repo"
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
configuration. Everywhere: the store's clock within a minute of ours; key
slots and audit records locked; retention at least the deletion delay;
later versions or delete markers on coffer's keys (tampering), listed.

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
				Store:     st,
				Mode:      p.Mode,
				Retention: time.Duration(p.Days) * 24 * time.Hour,
				Clock:     time.Now,
			})
			if err != nil {
				return err
			}
			// The audit record of this run, once the audit log is in:
			// r.AuditLog(source, host, version).Append(ctx, audit.Record{Kind: audit.KindDoctor,
			//	Doctor: &audit.DoctorRun{Passed: !rep.Failed(), Failed: rep.FailedPromises()}})
			out := cmd.OutOrStdout()
			if asJSON {
				err = rep.WriteJSON(out)
			} else {
				err = rep.WriteText(out)
			}
			if err != nil {
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
