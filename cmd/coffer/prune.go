package main

import (
	"coffer/progress"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"coffer/objectstore"
	"coffer/prune"
	"coffer/repo"
)

func newPruneCmd() *cobra.Command {
	var f repoFlags
	var o prune.Options
	var asJSON bool
	maxUnused, maxRemove := "5%", "50%"
	c := &cobra.Command{
		Use:   "prune --repo URL [--admin-profile NAME] [--dry-run] [--no-wait] [--force] [--max-unused 5%] [--max-remove 50%] [--json]",
		Short: "Remove what matured deletion requests let go, and the space nothing needs (administrator only)",
		Long: `prune removes the snapshots whose deletion requests have matured (the
delay has passed by the store's clock, no cancellation, no hold), then
collects garbage: packs no remaining snapshot needs are deleted, partly
used packs with more than --max-unused of their bytes unused are repacked
(their needed blocks written again), index objects are compacted into
one, and key slots revoked longer than the deletion delay ago are
removed. Every version of each object goes, delete markers included.

It runs in two steps so that it never races a backup: it first publishes
a plan (prune/<id>, an audit record), and deletes only after the
repository's prune margin, by the store's clock, re-judging everything
then. Running mounts read the plan within the margin and stop relying on
its packs; packs a running mount may rely on and the snapshot it builds on
are never touched. By default prune waits the margin and carries the plan
out; --no-wait returns after publishing (the next prune carries it out).
Plans a killed prune left are carried out by the next run.

Objects still under object lock stay and are listed with their unlock
date; a later prune removes them. A repacked pack's space returns only
when its lock lapses.

prune needs the administrator's credentials: --admin-profile NAME (a
profile of the AWS configuration) or the administrator's AWS environment
variables. With the server's own credentials, which cannot delete, it
stops before changing anything (exit 5).

Without --force it refuses (exit 2, nothing changed) to remove a host's
newest snapshot, or more than --max-remove of all snapshots at once.
--dry-run prints the plan and changes nothing (exit 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.MaxUnused, err = prune.ParseShare(maxUnused); err != nil {
				return usageError{fmt.Errorf("--max-unused %w", err)}
			}
			if o.MaxRemove, err = prune.ParseShare(maxRemove); err != nil {
				return usageError{fmt.Errorf("--max-remove %w", err)}
			}
			ctx := cmd.Context()
			st, err := f.openStore(ctx, false)
			if err != nil {
				return err
			}
			if !o.DryRun {
				if err := canDelete(cmd, st); err != nil {
					return err
				}
			}
			log := f.logger()
			r, err := f.openOn(ctx, st, repo.Options{Logger: log})
			if err != nil {
				return err
			}
			defer r.Close()
			host, _ := os.Hostname()
			o.Author = repo.Author{Source: f.sourceID(nil, log), Host: host}
			o.Log = f.auditLog(r, nil, log)
			o.Logger = log
			o.Bar = func(label string, bytes, packs int64) *progress.Bar {
				return progress.New(cmd.ErrOrStderr(), label, bytes, packs)
			}
			rep, err := prune.Run(ctx, r, o)
			out := cmd.OutOrStdout()
			if asJSON {
				if jerr := json.NewEncoder(out).Encode(rep); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				rep.WriteText(out)
			}
			if errors.Is(err, prune.ErrRefused) {
				return usageError{err}
			}
			return err
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&f.profile, "admin-profile", "", "sign with this profile of the AWS configuration: the administrator's (default: the AWS environment)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the plan and change nothing")
	fl.BoolVar(&o.NoWait, "no-wait", false, "publish the plan and return; the next prune carries it out")
	fl.BoolVar(&o.Force, "force", false, "allow removing a host's newest snapshot and more than --max-remove of the snapshots")
	fl.StringVar(&maxUnused, "max-unused", maxUnused, "repack a pack when more than this share of its bytes is unused")
	fl.StringVar(&maxRemove, "max-remove", maxRemove, "without --force, refuse to remove more than this share of all snapshots")
	fl.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return c
}

// canDelete stops prune, before anything changes, when the credentials
// in use may not delete versions (the server's own).
func canDelete(cmd *cobra.Command, st objectstore.Store) error {
	p, ok := st.(objectstore.DeleteProber)
	if !ok {
		return nil
	}
	can, err := p.CanDeleteVersions(cmd.Context())
	if err != nil {
		return fmt.Errorf("could not tell whether these credentials may delete: %w", err)
	}
	if !can {
		return fmt.Errorf("these credentials may not delete versions (a server's are made so): run prune with the administrator's, --admin-profile NAME or their AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; nothing was changed: %w", objectstore.ErrPermission)
	}
	return nil
}
