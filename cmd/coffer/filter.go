package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coffer/inspect"
	"coffer/objectstore"
	"coffer/repo"
)

// filterFlags are --tag, --host and --latest, for the commands that list
// or choose snapshots.
type filterFlags struct {
	tags   []string
	hosts  []string
	latest int
}

func (f *filterFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringArrayVar(&f.tags, "tag", nil, `only snapshots with these tags: "a,b" means a and b; repeat --tag for either`)
	fl.StringArrayVar(&f.hosts, "host", nil, "only snapshots made on this host (repeatable)")
	fl.IntVar(&f.latest, "latest", 0, "only the N newest snapshots (of those the other filters pick)")
}

func (f *filterFlags) filter() (inspect.Filter, error) {
	if f.latest < 0 {
		return inspect.Filter{}, usageError{fmt.Errorf("--latest %d: give a positive number of snapshots", f.latest)}
	}
	return inspect.Filter{Tags: f.tags, Hosts: f.hosts, Latest: f.latest}, nil
}

// pick applies the filters to all (oldest first) and returns the
// snapshots they pick, with their names. That nothing is picked is an
// error naming the filters, unless nothing was there to pick from.
func (f *filterFlags) pick(all []*repo.Snapshot) ([]*repo.Snapshot, []string, error) {
	flt, err := f.filter()
	if err != nil {
		return nil, nil, err
	}
	snaps, names := flt.Apply(all)
	if len(snaps) == 0 && len(all) > 0 && !flt.IsZero() {
		var which []string
		for _, t := range f.tags {
			which = append(which, "--tag "+t)
		}
		for _, h := range f.hosts {
			which = append(which, "--host "+h)
		}
		return nil, nil, fmt.Errorf("no snapshot matches %s: %w (coffer snapshots lists them with their tags and hosts)",
			strings.Join(which, " "), objectstore.ErrNotFound)
	}
	return snaps, names, nil
}

// listSnapshots lists the snapshots uploaded by asOf (all of them when
// it is zero), oldest first, and warns on stderr of what the listing
// skipped.
func listSnapshots(cmd *cobra.Command, r *repo.Repository, asOf time.Time) ([]*repo.Snapshot, error) {
	all, err := r.SnapshotsAsOf(cmd.Context(), asOf)
	if err != nil {
		return nil, err
	}
	warn(cmd.ErrOrStderr(), r, all)
	return all, nil
}

// list is listSnapshots, then pick: every snapshot, and those the
// filters pick with their names.
func (f *filterFlags) list(cmd *cobra.Command, r *repo.Repository, asOf time.Time) (all, picked []*repo.Snapshot, names []string, err error) {
	if all, err = listSnapshots(cmd, r, asOf); err != nil {
		return nil, nil, nil, err
	}
	picked, names, err = f.pick(all)
	return all, picked, names, err
}
