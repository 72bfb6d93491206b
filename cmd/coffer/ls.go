package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/spf13/cobra"

	"coffer/inspect"
	"coffer/repo"
)

func newLsCmd() *cobra.Command {
	var f repoFlags
	var flt filterFlags
	var asOf asOfFlag
	var long, recursive, asJSON bool
	c := &cobra.Command{
		Use:   "ls --repo URL SNAPSHOT[:PATH]",
		Short: "List the files of a snapshot without mounting it",
		Long: `List what PATH names in SNAPSHOT, as ls does: a directory's entries, or the
file itself. SNAPSHOT is anything 'coffer snapshots' shows (latest, a NAME, the
TIME, an ID or an ID prefix); with --tag, --host or --latest it is chosen among
the snapshots those pick, so 'coffer ls --host db1 latest' is db1's newest.
PATH is inside the snapshot, "/" when left out:

  coffer ls --repo /srv/backup latest:/etc
  coffer ls --repo /srv/backup -l --recursive 2026-01-02T03:04:05Z:/srv

Paths are printed whole, from the snapshot's root. -l adds the type and
permissions, link count, numeric owner and group (the names are those of
the machine that was backed up), size and modification time (UTC). --json
prints one JSON object per line per entry; the README lists the fields.

A directory whose tree is damaged or missing is named in a warning and its
contents left out; the listing goes on, and exits 7 at the end.`,
		Args: cobra.ExactArgs(1),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			_, snaps, names, err := flt.list(cmd, r, asOf.t)
			if err != nil {
				return err
			}
			s, p, err := repo.SplitSnapshotPath(snaps, names, args[0])
			if err != nil {
				return err
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(out)
			damage := damageWarner(cmd)
			err = inspect.List(cmd.Context(), r, s, p, inspect.ListOptions{Recursive: recursive, OnDamage: damage.warn}, func(e inspect.Entry) error {
				switch {
				case asJSON:
					return enc.Encode(e.JSON())
				case long:
					_, err := fmt.Fprintln(out, e.Long())
					return err
				}
				_, err := fmt.Fprintln(out, e.Path)
				return err
			})
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			if errors.Is(err, repo.ErrNoPath) {
				err = fmt.Errorf("%w (coffer ls %s:%s lists what is there)", err, s.ID[:8], path.Dir(p))
			}
			if err == nil {
				err = damage.result("ls")
			}
			return err
		}),
	}
	f.register(c)
	flt.register(c)
	c.Flags().BoolVarP(&long, "long", "l", false, "long listing: permissions, links, owner, group, size, mtime")
	c.Flags().BoolVarP(&recursive, "recursive", "R", false, "list directories beneath too")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line per entry")
	c.Flags().Var(&asOf, "as-of", asOfUsage)
	return c
}
