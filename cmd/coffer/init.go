package main

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"coffer/duration"
	"coffer/objectstore"
	"coffer/repo"
)

func newInitCmd() *cobra.Command {
	var f repoFlags
	var days int
	var ret time.Duration
	var mode string
	var delay, margin time.Duration
	var unsafeDelays bool
	c := &cobra.Command{
		Use:   "init --repo URL",
		Short: "Create a new, empty repository",
		Long: `Create a repository at URL with a new random master key, wrapped by your
passphrase (asked twice, or --password-file) or by a key file
(--key-file; make one with 'coffer key generate FILE').

init refuses a location that already holds anything, and changes nothing
then. Every object is locked for the retention (30 days by default;
--retention 30d, --retention 90s, or --retention-days 30), and kept locked
while any snapshot needs it. Durations are a number and a unit: ms, s,
min, h, d, w, y ("m" is refused: write min or d). On an S3 bucket without object
lock init fails before writing anything; create the bucket with object
lock, or pass --retention-days 0. GOVERNANCE mode protects nothing against
credentials allowed s3:BypassGovernanceRetention. An init that failed
after writing its key slot is finished by running it again with the same
passphrase or key file. Keep the passphrase or key file safe: without it
the backups cannot be read by anyone, including you.

Deleting snapshots only records a request (coffer forget); prune acts on it
after the deletion delay (--deletion-delay, 14 days by default, fixed
here for good), and publishes what it will remove for the prune margin
(--prune-margin, 15min) before removing it, so running mounts see it
first. The retention must cover the delay plus a day between snapshots
(15 days for the default delay; the default 30 days does), since the lock
is what enforces the delay.
Shorter settings, for tests and demonstrations only, need
--unsafe-short-delays; doctor and snapshots then say so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m := objectstore.Mode(mode)
			if m != objectstore.Compliance && m != objectstore.Governance {
				return usageError{fmt.Errorf("--retention-mode must be COMPLIANCE or GOVERNANCE, not %q", mode)}
			}
			policy := repo.PolicyFor(m, time.Duration(days)*24*time.Hour)
			if cmd.Flags().Changed("retention") {
				if cmd.Flags().Changed("retention-days") {
					return usageError{fmt.Errorf("--retention and --retention-days say the same thing: give one")}
				}
				policy = repo.PolicyFor(m, ret)
			}
			if m == objectstore.Governance && policy.Period() > 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: GOVERNANCE retention can be bypassed: credentials allowed s3:BypassGovernanceRetention can delete every object, backups included; use COMPLIANCE unless you must be able to remove locked objects")
			}
			if err := repo.CheckDeletion(policy, repo.NewDeletionSettings(delay, margin, unsafeDelays)); err != nil {
				return err // before the passphrase is asked for
			}
			if unsafeDelays {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: --unsafe-short-delays: deletions mature after %s and prune plans wait %s; use this for tests only\n",
					duration.Format(repo.NewDeletionSettings(delay, margin, true).Delay()), duration.Format(repo.NewDeletionSettings(delay, margin, true).Margin()))
			}
			secret, err := f.secret(true)
			if err != nil {
				return err
			}
			st, err := f.openStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			id, err := repo.Init(cmd.Context(), st, secret, repo.InitOptions{
				Retention: policy,
				Deletion:  repo.NewDeletionSettings(delay, margin, unsafeDelays),
				Now:       time.Now(),
				Logger:    f.logger(),
			})
			if err != nil {
				return err
			}
			f.recordInit(cmd, secret)
			loc, _ := f.location()
			fmt.Fprintf(cmd.OutOrStdout(), "created repository %s at %s\n", hex.EncodeToString(id), loc)
			return nil
		},
	}
	f.register(c)
	c.Flags().IntVar(&days, "retention-days", 30, "keep every object locked for this many days (0: no object lock)")
	c.Flags().Var(duration.Value{D: &ret}, "retention", "keep every object locked this long, such as 30d or 90s (units ms, s, min, h, d, w, y; 0: no object lock)")
	c.Flags().StringVar(&mode, "retention-mode", "COMPLIANCE", "object lock mode: COMPLIANCE or GOVERNANCE")
	c.Flags().Var(duration.Value{D: &delay}, "deletion-delay", "how long a deletion request waits before prune may act on it (default 14d; less needs --unsafe-short-delays)")
	c.Flags().Var(duration.Value{D: &margin}, "prune-margin", "how long prune publishes its plan before deleting, so running mounts see it (default 15min; less needs --unsafe-short-delays)")
	c.Flags().BoolVar(&unsafeDelays, "unsafe-short-delays", false, "accept a deletion delay under 14d, a prune margin under 15min and a retention close to the delay (tests only)")
	return c
}
