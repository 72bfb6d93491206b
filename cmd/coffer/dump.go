package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"coffer/repo"
	"coffer/restore"
)

func newDumpCmd() *cobra.Command {
	var f repoFlags
	var asOf asOfFlag
	var archive string
	c := &cobra.Command{
		Use:   "dump SNAPSHOT:PATH --repo URL",
		Short: "Write a file of a snapshot, or a directory as a tar archive, to stdout",
		Long: `Write the file PATH of SNAPSHOT to stdout, for a pipe:

  coffer dump latest:/var/backups/db.dump | pg_restore -d mydb

With --archive tar, PATH may be a directory (or the whole snapshot): it is
written as a PAX tar archive with owners, modes, nanosecond times, hard
links, symlinks, devices and fifos, extended attributes and POSIX ACLs, so
'tar -x --xattrs --xattrs-include="*" --acls -f -' restores it exactly
(sockets, which tar cannot hold, are left out with a warning):

  coffer dump --archive tar latest:/etc | tar -x -C /tmp/etc --xattrs --acls -f -

A block that cannot be read is written as zeros (so the stream keeps its
length), reported on stderr with the file and block, and coffer exits with
status 7. SNAPSHOT is anything 'coffer restore' takes.`,
		Args: cobra.ExactArgs(1),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			if archive != "" && archive != "tar" {
				return usageError{fmt.Errorf("--archive %q: only tar is supported", archive)}
			}
			ctx := cmd.Context()
			node, p, err := findNode(ctx, r, args[0], asOf.t)
			if err != nil {
				return err
			}
			if node.Type != repo.TypeFile && archive == "" {
				return usageError{fmt.Errorf("%s is not a file: dump writes one file; use --archive tar for a directory", p)}
			}
			problem := func(p string, err error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "coffer: error: %s: %s\n", p, oneLine(err.Error()))
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
			if archive == "tar" {
				err = restore.WriteTar(ctx, r, node, w, problem)
			} else {
				err = restore.DumpFile(ctx, r, p, node, w, problem)
			}
			if ferr := w.Flush(); ferr != nil && (err == nil || errors.Is(err, restore.ErrIncomplete)) {
				err = ferr
			}
			if errors.Is(err, restore.ErrIncomplete) {
				return incompleteError{fmt.Errorf("%w: the problems are listed above", err)}
			}
			return err
		}),
	}
	f.register(c)
	c.Flags().Var(&asOf, "as-of", "pick SNAPSHOT among "+asOfUsage)
	c.Flags().StringVar(&archive, "archive", "", "write PATH as an archive of this format (tar)")
	return c
}
