package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"coffer/repo"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print coffer's version and repository format",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
		},
	}
}

// versionLine is what both `coffer version` and `coffer --version` print.
func versionLine() string {
	return fmt.Sprintf("coffer %s (repository format %d, %s %s/%s)",
		version, repo.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
