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
	"coffer/inspect"
	"coffer/repo"
)

// snapshotJSON is one element of `coffer snapshots --json`. Name is the
// snapshot's directory under .snapshots; every field that names a
// snapshot (id, time, name) is accepted by `mount --snapshot`. The
// README's table documents each field; fields are only ever added.
type snapshotJSON struct {
	ID    string   `json:"id"`
	Time  string   `json:"time"`
	Name  string   `json:"name"`
	Host  string   `json:"host"`
	Tags  []string `json:"tags"`
	Files uint64   `json:"files"`
	Size  uint64   `json:"size"`
	// Parent is the snapshot this one was made on ("" for a first).
	Parent string `json:"parent"`
	// AddedBytes is what this snapshot added to the store: the stored
	// bytes of the blocks (data and trees) no older snapshot uses.
	AddedBytes  int64 `json:"added_bytes"`
	AddedBlocks int   `json:"added_blocks"`
	// DeletionDue is when the earliest uncancelled deletion request
	// naming the snapshot matures (RFC 3339, UTC); null when none does.
	// Held is whether a hold keeps it.
	DeletionDue *string `json:"deletion_due"`
	Held        bool    `json:"held"`
}

func newSnapshotsCmd() *cobra.Command {
	var f repoFlags
	var asJSON bool
	var asOf asOfFlag
	var flt filterFlags
	c := &cobra.Command{
		Use:   "snapshots --repo URL",
		Short: "List the repository's snapshots",
		Long: `List the repository's snapshots, oldest first. NAME is the snapshot's
directory under MOUNTPOINT/.snapshots; the ID, an ID prefix, the NAME and
the TIME are all accepted by 'coffer mount --snapshot'. ADDED is what the
snapshot added to the store: the encrypted bytes of the blocks no older
snapshot uses (finding it reads each directory's tree once, however many
snapshots share it). PARENT is the snapshot it was made on. DELETION says
"deletion requested, due DATE" while a deletion request names the snapshot
(nothing is removed before DATE, and a request can be cancelled until then;
a warning line counts them), and "held" while a hold keeps it. --tag, --host
and --latest list only the snapshots they pick.

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
			// Read first: listing warns of every damaged object, these too.
			dels, err := r.Deletions(cmd.Context())
			if err != nil {
				return err
			}
			snaps, picked, names, err := flt.list(cmd, r, asOf.t)
			if err != nil {
				return err
			}
			added, problems, err := inspect.AddedBy(cmd.Context(), r, snaps)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: %s (ADDED is short)\n", p)
			}
			out := make([]snapshotJSON, 0, len(picked))
			for i, s := range picked {
				tags := s.Tags
				if tags == nil {
					tags = []string{}
				}
				a := added[s.ID]
				j := snapshotJSON{ID: s.ID, Time: repo.ListTime(s), Name: names[i],
					Host: s.Host, Tags: tags, Files: s.Files, Size: s.Size, Parent: s.Parent,
					AddedBytes: a.Bytes, AddedBlocks: a.Blocks, Held: dels.Held(s.ID)}
				if due, ok := dels.Due(s.ID); ok {
					d := due.UTC().Format(time.RFC3339)
					j.DeletionDue = &d
				}
				out = append(out, j)
			}
			warnPending(cmd.ErrOrStderr(), dels, snaps)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTIME (UTC)\tNAME\tHOST\tTAGS\tFILES\tSIZE\tADDED\tPARENT\tDELETION")
			for _, s := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.ID[:16], s.Time, s.Name, s.Host,
					strings.Join(s.Tags, ","), s.Files, bytesize.IEC(s.Size), bytesize.IEC(uint64(s.AddedBytes)),
					idPrefix(s.Parent), deletionNote(s))
			}
			return w.Flush()
		}),
	}
	f.register(c)
	flt.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().Var(&asOf, "as-of", asOfUsage)
	return c
}

// deletionNote is the DELETION column: a pending request and its due
// date (a prune may remove the snapshot after it), and a hold.
func deletionNote(s snapshotJSON) string {
	var notes []string
	if s.DeletionDue != nil {
		notes = append(notes, "deletion requested, due "+*s.DeletionDue)
	}
	if s.Held {
		notes = append(notes, "held")
	}
	return strings.Join(notes, "; ")
}

// warnPending warns, in one line, of the listed snapshots a deletion
// request names: nothing is removed before they are due, and a request
// can be cancelled until then.
func warnPending(w io.Writer, d *repo.Deletions, snaps []*repo.Snapshot) {
	var n int
	var first time.Time
	for _, s := range snaps {
		if due, ok := d.Due(s.ID); ok {
			n++
			if first.IsZero() || due.Before(first) {
				first = due
			}
		}
	}
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "coffer: warning: deletion requested for %d snapshot(s), the first due %s: a prune may remove them after that (coffer forget --cancel SNAPSHOT keeps one)\n",
		n, first.UTC().Format(time.RFC3339))
}

// idPrefix is the short form of a snapshot ID tables print.
func idPrefix(id string) string { return id[:min(len(id), 16)] }

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
