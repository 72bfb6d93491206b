// Command coffer is a FUSE filesystem for backups: mount a repository,
// write into it with rsync, tar, cp or a database dump, and every file is
// encrypted before it reaches the store. See `coffer help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"coffer/objectstore/s3"
	"coffer/progress"
)

var version = "dev"

// Exit codes. They are documented in `coffer --help` and the README.
const (
	exitOK          = 0
	exitError       = 1 // anything not listed below
	exitUsage       = 2 // bad flags or arguments, or a request refused without --force
	exitWrongKey    = 3 // wrong passphrase or key file
	exitNoRepo      = 4 // no repository, snapshot or mount at that place
	exitUnreachable = 5 // the store could not be reached or refused us; no credentials; TLS
	exitExists      = 6 // init on a location that already holds data
	exitIncomplete  = 7 // check found problems; restore or dump could not restore everything
)

const exitCodesHelp = `Exit codes:
  0  success
  1  any other error
  2  bad flags or arguments (an unknown command, a missing argument, a
     request refused as unsafe without --force, a retention the bucket
     cannot keep, deletion settings below the safe floors)
  3  wrong passphrase or key file (or a key file readable by others)
  4  no repository, snapshot or mount at that place
  5  the store could not be reached, or refused the request (also: no
     usable AWS credentials, a TLS certificate that does not verify)
  6  init refused: the location already holds data
  7  check found problems, or restore/dump could not restore everything,
     or ls/diff/stats could not read every tree`

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "coffer",
		Short: "An encrypted, write-once backup filesystem on S3 or a local directory",
		Long: `coffer mounts a backup repository as a filesystem. Write into it with the
tools you already use (rsync -a, tar x, cp -a, pg_dump > file); every file
is encrypted block by block before it leaves this machine, and lands in the
store as immutable objects. Snapshots are read-only views under
MOUNTPOINT/.snapshots/, so a restore is ls and cp.

Repositories are a local directory (/srv/backup, file:///srv/backup) or an
S3 bucket with an optional prefix (s3://bucket/prefix).

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w ('%s --help' lists the flags)", err, c.CommandPath())}
	})
	root.AddCommand(newInitCmd(), newMountCmd(), newSnapshotCmd(), newSnapshotsCmd(),
		newUmountCmd(), newKeyCmd(), newVersionCmd(), newPolicyCmd(), newDoctorCmd(), newAuditCmd(), newCheckCmd())
	root.AddCommand(newLsCmd(), newDiffCmd(), newStatsCmd())
	root.AddCommand(newForgetCmd(), newRequestsCmd(), newHoldCmd(), newReleaseCmd())
	root.AddCommand(newRestoreCmd(), newDumpCmd(), newBackupCmd())
	root.Version = version
	root.SetVersionTemplate(versionLine() + "\n")
	root.PersistentFlags().BoolVarP(&progress.Quiet, "quiet", "q", false,
		"print no progress bars, informational lines or info-level log lines (results, warnings and errors still print)")
	// Declared here so cobra adds no -v shorthand: -v is --verbose elsewhere.
	root.Flags().Bool("version", false, "print coffer's version and repository format")
	markUsageErrors(root)
	return root
}

// usageError marks a mistake in how coffer was called.
type usageError struct{ error }

// incompleteError marks a command that ran to its end without doing all
// of it (check found problems, restore left files out), having named
// each problem already; it exits 7.
type incompleteError struct{ error }

// markUsageErrors makes every argument check under c report a usageError
// (exit 2). A command that only groups others (coffer, coffer key) gets a
// check that refuses an unknown subcommand, and prints its help when
// called alone; cobra would otherwise print the help for "coffer key
// bogus" and exit 0, and report "coffer bogus" as an ordinary error.
func markUsageErrors(c *cobra.Command) {
	hint := func(c *cobra.Command) string { return "usage: " + c.UseLine() }
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = unknownCommand
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		hint = func(c *cobra.Command) string { return "'" + c.CommandPath() + " --help' lists the commands" }
	}
	if check := c.Args; check != nil {
		c.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageError{fmt.Errorf("%w (%s)", err, hint(c))}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

// unknownCommand is the argument check of a command that only groups
// others: any argument left is a subcommand that does not exist.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	err := fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		err = fmt.Errorf("%w; did you mean %q?", err, s[0])
	}
	return err
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	if mountHelperNames[filepath.Base(os.Args[0])] { // mount(8) runs us for fuse.coffer (mounthelper.go)
		err = runMountHelper(ctx, os.Args[1:])
	} else {
		err = newRootCmd().ExecuteContext(ctx)
	}
	stop()
	if err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintf(os.Stderr, "coffer: %s\n", describe(err))
		}
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var u usageError
	var remote remoteError
	var incomplete incompleteError
	switch {
	case errors.As(err, &remote) && remote.code != 0:
		return remote.code
	case errors.As(err, &incomplete):
		return exitIncomplete
	case errors.As(err, &u), errors.Is(err, s3.ErrConfig), isRefusedUnsafe(err), isUnkeepable(err):
		return exitUsage
	case isWrongKey(err):
		return exitWrongKey
	case isNoRepo(err):
		return exitNoRepo
	case isUnreachable(err):
		return exitUnreachable
	case isExists(err):
		return exitExists
	}
	return exitError
}
