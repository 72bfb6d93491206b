package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"

	"coffer/daemon"
)

func newUmountCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "umount MOUNTPOINT",
		Short: "Commit a snapshot if the head changed, then unmount",
		Long: `Ask the coffer serving MOUNTPOINT (or a symlink to it) to stop: files still
open for writing are waited for (up to the daemon's --stop-timeout; new
opens for writing get EROFS meanwhile), a snapshot is committed if anything
changed, and the mount is unmounted. If a file is still open at the
timeout, or the mount is still in use, nothing is unmounted and the exit
status is non-zero; the message names the files.

If that coffer died (killed, crashed), the stale mount it left is cleared
instead; everything it committed before is intact.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mp, err := resolveMountpoint(args[0])
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
			reply, err := callControl(cmd.Context(), mp, daemon.Request{Op: "umount"})
			if err != nil {
				return err
			}
			if reply.Created {
				inform(cmd.OutOrStdout(), "committed snapshot %s\n", reply.ID)
			}
			inform(cmd.OutOrStdout(), "unmounted %s\n", mp)
			return nil
		},
	}
}
