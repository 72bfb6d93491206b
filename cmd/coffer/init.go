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
the backups cannot be read by anyone, including you.`,
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
	return c
}
