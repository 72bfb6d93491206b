package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/duration"
	"coffer/localstate"
	"coffer/repo"
)

func newAuditCmd() *cobra.Command {
	var f repoFlags
	var asJSON, verify bool
	var since string
	c := &cobra.Command{
		Use:   "audit --repo URL [--json] [--since T] [--verify]",
		Short: "List the audit log; --verify proves it whole",
		Long: `List the repository's audit log: one sealed, locked, hash-chained record per
operation (init, mount, unmount, snapshot commit, retention extension, key
change, doctor run), each naming the server (source ID and host) that
wrote it.

Records are read at their first version, the one coffer wrote: later
versions and delete markers put on audit keys are named on stderr.

--verify checks that the records run from the first without a gap, that
each one authenticates and links to the one before it, that no audit key
has a later version or a delete marker, and that every snapshot has its
commit record; it exits non-zero naming the first break.
Objects planted under audit/ that are not records are named on stderr;
writers step over them and say so in their next record.

--since T lists only the records written at or after T (RFC 3339, a date
YYYY-MM-DD, or a Go duration such as 72h, meaning that long ago).`,
		Args: cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return usageError{err}
			}
			entries, verr, err := readAudit(cmd, r, verify)
			if err != nil {
				return err
			}
			if entries == nil && verr != nil {
				return verr
			}
			if err := printRecords(cmd, audit.Records(entries), from, asJSON); err != nil {
				return err
			}
			if verr != nil {
				return verr
			}
			if verify {
				inform(cmd.ErrOrStderr(), "coffer: the audit log verifies: %d records, every snapshot recorded\n", len(audit.Records(entries)))
			}
			return nil
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON")
	c.Flags().BoolVar(&verify, "verify", false, "verify the chain and that every snapshot has its commit record")
	c.Flags().StringVar(&since, "since", "", "only records written at or after this time (RFC 3339, YYYY-MM-DD or a duration ago)")
	return c
}

// readAudit reads the log, verified with verify (verr is the first
// break), and warns on stderr of what was planted or tampered with. err
// is a store that failed.
func readAudit(cmd *cobra.Command, r *repo.Repository, verify bool) (entries []audit.Entry, verr, err error) {
	ctx := cmd.Context()
	log := r.AuditLog("", "", version)
	var planted, tampered []string
	if verify {
		snaps, err := r.Snapshots(ctx)
		if err != nil {
			return nil, nil, err
		}
		ids := make([]string, len(snaps))
		for i, s := range snaps {
			ids[i] = s.ID
		}
		var rep audit.Report
		if rep, verr = log.Verify(ctx, ids); verr != nil && !errors.Is(verr, audit.ErrBroken) {
			return nil, nil, verr
		}
		entries, planted, tampered = rep.Entries, rep.Planted, rep.Tampered
	} else {
		if entries, tampered, err = log.Read(ctx); err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if e.Record == nil {
				planted = append(planted, fmt.Sprintf("%s is not a record (%v)", e.Key, e.Err))
			}
		}
	}
	for _, p := range planted {
		fmt.Fprintln(cmd.ErrOrStderr(), "coffer: warning: planted under audit/: "+p)
	}
	for _, line := range tampered {
		fmt.Fprintln(cmd.ErrOrStderr(), "coffer: warning: tampering: "+line)
	}
	return entries, verr, nil
}

// parseSince reads --since; the zero time for "".
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := duration.Parse(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, a date YYYY-MM-DD or a duration such as 72h or 3d", s)
}

func printRecords(cmd *cobra.Command, recs []audit.Record, from time.Time, asJSON bool) error {
	out := []audit.Record{}
	for _, rec := range recs {
		if !rec.Time.Before(from) {
			out = append(out, rec)
		}
	}
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME (UTC)\tKIND\tSOURCE\tHOST\tWHAT")
	for _, rec := range out {
		src := rec.Source
		if len(src) > 8 {
			src = src[:8]
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", rec.Seq, rec.Time.UTC().Format("2006-01-02 15:04:05"),
			rec.Kind, src, rec.Host, audit.Summary(rec))
	}
	return w.Flush()
}

// auditLog is the audit log of r as this server writes it: its source ID
// comes from state, or from the default state directory of the
// repository when state is nil (--cache-dir off, commands without one).
func (f *repoFlags) auditLog(r *repo.Repository, state *localstate.Dir, log *slog.Logger) *audit.Log {
	host, _ := os.Hostname()
	return r.AuditLog(f.sourceID(state, log), host, version)
}

// sourceID is this server's source ID, from state or, when state is nil,
// from the default state directory of the repository; "" (with a
// warning) if there is none.
func (f *repoFlags) sourceID(state *localstate.Dir, log *slog.Logger) string {
	if state == nil {
		if loc, err := f.location(); err == nil {
			if root, err := localstate.DefaultRoot(loc); err == nil {
				state, _ = localstate.OpenDir(root)
			}
		}
	}
	src, err := state.SourceID()
	if err != nil || src == "" {
		log.Warn("no source ID for the audit log; records name the host only", "err", err)
	}
	return src
}

// secretKind is the kind of key slot s makes: "keyfile" or "passphrase".
func secretKind(s repo.Secret) string {
	if s.KeyFile != nil {
		return "keyfile"
	}
	return "passphrase"
}

// recordKeyChange writes the audit record of a key slot added or revoked.
// The change is made already: a failure is a warning, not an error.
func (f *repoFlags) recordKeyChange(cmd *cobra.Command, r *repo.Repository, kind, slot, slotKind string) {
	log := f.logger()
	_, err := f.auditLog(r, nil, log).Append(cmd.Context(), audit.Record{Kind: kind, Key: &audit.KeyChange{Slot: slot, Kind: slotKind}})
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: the audit record of this key change was not written: %v\n", err)
	}
}

// recordInit writes the init record of the repository just created in
// st. The repository exists already: a failure is a warning (its first
// mount starts the log with a genesis record instead).
func (f *repoFlags) recordInit(cmd *cobra.Command, secret repo.Secret) {
	warn := func(err error) {
		fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: the audit log's init record was not written (the first mount starts the log instead): %v\n", err)
	}
	st, err := f.openStore(cmd.Context(), false)
	if err != nil {
		warn(err)
		return
	}
	log := f.logger()
	r, err := repo.Open(cmd.Context(), st, secret, repo.Options{Logger: log})
	if err != nil {
		warn(err)
		return
	}
	defer r.Close()
	if _, err := f.auditLog(r, nil, log).Append(cmd.Context(), audit.Record{Kind: audit.KindInit}); err != nil {
		warn(err)
	}
}

// openCounted opens the repository over a store that counts what is
// written, for the commit records.
func (f *repoFlags) openCounted(ctx context.Context, o repo.Options) (*repo.Repository, *audit.Counter, error) {
	secret, err := f.secret(false)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.openStore(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if o.Logger == nil {
		o.Logger = f.logger()
	}
	counter := audit.CountWrites(st)
	r, err := repo.Open(ctx, counter, secret, o)
	return r, counter, err
}
