package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/repo"
)

func newHoldCmd() *cobra.Command {
	var f repoFlags
	var note string
	c := &cobra.Command{
		Use:   "hold --repo URL SNAPSHOT...",
		Short: "Keep snapshots from being forgotten or pruned until released",
		Long: `Place a hold on snapshots (like ZFS's 'zfs hold'): until 'coffer release',
'coffer forget' refuses to request them (and a policy keeps them, reason
"held"), and 'coffer prune' keeps them even when a request for them is due.
The hold is a sealed, locked object and an audit record.

Where the store supports S3 legal holds (a bucket with object lock), the
snapshot object's first version also carries one, so the store itself
refuses to delete it until the last hold on it is released. The same
credentials that place a legal hold can clear it: it guards against a
mistaken prune, not against whoever holds them.`,
		Example: `  coffer hold 2026-11-02T03-00-00Z --note "audit 2026"`,
		Args:    cobra.MinimumNArgs(1),
		RunE: f.onSnapshots(func(cmd *cobra.Command, args, ids []string, r *repo.Repository) error {
			h, legal, err := r.Hold(cmd.Context(), f.author(), ids, note)
			if err != nil {
				return err
			}
			f.recordDeletion(cmd, r, audit.KindHold, audit.DeletionChange{Object: h.Key, Snapshots: ids})
			fmt.Fprintf(cmd.OutOrStdout(), "held %s (%s): forget refuses them and prune keeps them until 'coffer release'\n",
				count(len(ids), "snapshot"), h.Key)
			reportLegalHolds(cmd.OutOrStdout(), cmd.ErrOrStderr(), legal, "placed")
			return nil
		}),
	}
	f.register(c)
	c.Flags().StringVar(&note, "note", "", "why the snapshots are held (kept in the hold, shown by 'coffer audit')")
	return c
}

func newReleaseCmd() *cobra.Command {
	var f repoFlags
	c := &cobra.Command{
		Use:   "release --repo URL SNAPSHOT...",
		Short: "Release every hold on snapshots",
		Long: `Release every hold on the snapshots named ('coffer hold' placed them), one
release object and audit record per hold. The snapshots can then be
forgotten again; a deletion request for them that is due already lets the
next 'coffer prune' remove them. Their S3 legal holds, if any, are cleared
once no hold covers them.`,
		Args: cobra.MinimumNArgs(1),
		RunE: f.onSnapshots(func(cmd *cobra.Command, args, ids []string, r *repo.Repository) error {
			released, legal, err := r.Release(cmd.Context(), f.author(), ids)
			if errors.Is(err, repo.ErrNotHeld) && len(legal.Done) > 0 {
				reportLegalHolds(cmd.OutOrStdout(), cmd.ErrOrStderr(), legal, "left by an earlier release cleared")
				return nil
			}
			if errors.Is(err, repo.ErrNotHeld) {
				return usageError{fmt.Errorf("%w: %s ('coffer requests' and 'coffer audit' show the holds)", err, strings.Join(args, ", "))}
			}
			for _, rel := range released {
				f.recordDeletion(cmd, r, audit.KindRelease, audit.DeletionChange{Object: rel.Key, Snapshots: rel.Snapshots, Targets: []string{rel.Hold}})
				fmt.Fprintf(cmd.OutOrStdout(), "released %s from %s: %s\n", count(len(rel.Snapshots), "snapshot"), rel.Hold, rel.Key)
			}
			if err != nil {
				return err
			}
			reportLegalHolds(cmd.OutOrStdout(), cmd.ErrOrStderr(), legal, "cleared")
			return nil
		}),
	}
	f.register(c)
	return c
}

// onSnapshots is withRepo for a command whose arguments are snapshot
// references: fn gets them resolved to IDs.
func (f *repoFlags) onSnapshots(fn func(cmd *cobra.Command, args, ids []string, r *repo.Repository) error) func(*cobra.Command, []string) error {
	return f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
		ids, err := resolveSnapshots(cmd.Context(), r, args)
		if err != nil {
			return err
		}
		return fn(cmd, args, ids, r)
	})
}

// resolveSnapshots resolves snapshot references to IDs.
func resolveSnapshots(ctx context.Context, r *repo.Repository, refs []string) ([]string, error) {
	ids := make([]string, 0, len(refs))
	for _, ref := range refs {
		s, err := r.FindSnapshot(ctx, ref)
		if err != nil {
			return nil, usageIfAmbiguous(err)
		}
		ids = append(ids, s.ID)
	}
	return ids, nil
}

// reportLegalHolds says what happened to the S3 legal holds; failures are
// warnings: the hold objects, which coffer honours, are written.
func reportLegalHolds(out, errw io.Writer, legal repo.LegalHolds, verb string) {
	if !legal.Supported {
		fmt.Fprintln(out, "(no S3 legal holds: this store or repository has none, or no object lock; coffer's hold objects alone keep the snapshots)")
		return
	}
	if len(legal.Done) > 0 {
		fmt.Fprintf(out, "S3 legal hold %s on %s\n", verb, count(len(legal.Done), "snapshot object"))
	}
	for id, err := range legal.Failed {
		fmt.Fprintf(errw, "coffer: warning: S3 legal hold not %s on snapshot %s: %v\n", verb, id[:min(8, len(id))], err)
	}
}
