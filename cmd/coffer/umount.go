package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

func newUmountCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "umount MOUNTPOINT",
		Short: "Commit a snapshot if the head changed, then unmount",
		Long: `Ask the coffer serving MOUNTPOINT to commit a snapshot (if anything changed)
and unmount. If that coffer died (killed, crashed), the stale mount it left
is cleared instead; everything it committed before is intact.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mp, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if err := probeMount(mp); errors.Is(err, syscall.ENOTCONN) {
				if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
					return fmt.Errorf("clear stale mount at %s: %w", mp, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cleared the stale mount at %s (its coffer had stopped); mount again to continue\n", mp)
				return nil
			}
			reply, err := callControl(cmd.Context(), mp, controlRequest{Op: "umount"})
			if err != nil {
				return err
			}
			if reply.Created {
				fmt.Fprintf(cmd.OutOrStdout(), "committed snapshot %s\n", reply.ID)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unmounted %s\n", mp)
			return nil
		},
	}
}
