package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"coffer/bytesize"
	"coffer/repo"
)

// snapshotJSON is one element of `coffer snapshots --json`. Name is the
// snapshot's directory under .snapshots; every field that names a
// snapshot (id, time, name) is accepted by `mount --snapshot`.
type snapshotJSON struct {
	ID    string   `json:"id"`
	Time  string   `json:"time"`
	Name  string   `json:"name"`
	Host  string   `json:"host"`
	Tags  []string `json:"tags"`
	Files uint64   `json:"files"`
	Size  uint64   `json:"size"`
}

func newSnapshotsCmd() *cobra.Command {
	var f repoFlags
	var asJSON bool
	var asOf asOfFlag
	c := &cobra.Command{
		Use:   "snapshots --repo URL",
		Short: "List the repository's snapshots",
		Long: `List the repository's snapshots, oldest first. NAME is the snapshot's
directory under MOUNTPOINT/.snapshots; the ID, an ID prefix, the NAME and
the TIME are all accepted by 'coffer mount --snapshot'.

Objects that are damaged or not coffer's (in index/ or snapshots/) are
skipped and named in warnings on stderr, as are breaks in the snapshot
history (a newest snapshot whose parent is gone).

Every object is read at its first version, which is coffer's (coffer never
overwrites): later versions and delete markers, which someone else put
there, are ignored and named in warnings. With --as-of TIME, only the
snapshots uploaded by then (by the store's clock) are listed, so snapshots
forged later can be set aside.`,
		Args: cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			snaps, err := r.SnapshotsAsOf(cmd.Context(), asOf.t)
			if err != nil {
				return err
			}
			warn(cmd.ErrOrStderr(), r, snaps)
			names := repo.NameSnapshots(snaps)
			out := make([]snapshotJSON, 0, len(snaps))
			for i, s := range snaps {
				tags := s.Tags
				if tags == nil {
					tags = []string{}
				}
				out = append(out, snapshotJSON{ID: s.ID, Time: repo.ListTime(s), Name: names[i],
					Host: s.Host, Tags: tags, Files: s.Files, Size: s.Size})
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTIME (UTC)\tNAME\tHOST\tTAGS\tFILES\tSIZE")
			for _, s := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID[:16], s.Time, s.Name, s.Host,
					strings.Join(s.Tags, ","), s.Files, bytesize.IEC(s.Size))
			}
			return w.Flush()
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().Var(&asOf, "as-of", asOfUsage)
	return c
}

const asOfUsage = "only the snapshots uploaded by this time, by the store's clock (RFC 3339, e.g. 2026-01-02T15:04:05Z, or a date, UTC)"

// asOfFlag is --as-of: a point in time, UTC unless it names its zone.
type asOfFlag struct{ t time.Time }

func (a *asOfFlag) String() string {
	if a.t.IsZero() {
		return ""
	}
	return a.t.Format(time.RFC3339)
}

func (a *asOfFlag) Type() string { return "TIME" }

// Set accepts RFC 3339 (with or without seconds' fraction), the time
// `coffer snapshots` prints, a snapshot's directory name, and a date.
func (a *asOfFlag) Set(v string) error {
	for _, layout := range []string{time.RFC3339Nano, repo.SnapshotTimeFormat, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			a.t = t
			return nil
		}
	}
	return fmt.Errorf("%q is not a time: use RFC 3339, such as 2026-01-02T15:04:05Z, or a date such as 2026-01-02", v)
}

// warn prints one line per damaged or foreign object skipped, per later
// version or delete marker ignored, and per break in the snapshot
// history.
func warn(w io.Writer, r *repo.Repository, snaps []*repo.Snapshot) {
	for _, d := range r.Damage() {
		fmt.Fprintf(w, "coffer: warning: skipped %s\n", d)
	}
	for _, t := range r.Tampering() {
		fmt.Fprintf(w, "coffer: warning: tampering: %s\n", t)
	}
	for _, line := range repo.CheckHistory(snaps, nil) {
		fmt.Fprintf(w, "coffer: warning: %s\n", line)
	}
}
