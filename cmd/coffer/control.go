package main

import (
	"context"
	"errors"
	"fmt"

	"coffer/daemon"
)

// runDir holds the control sockets and the writer locks: runtime state
// that must not outlive a reboot.
const runDir = "/run/coffer"

// remoteError is an error the daemon reported, with its exit code.
type remoteError struct {
	msg  string
	code int
}

func (e remoteError) Error() string { return e.msg }

// callControl sends req to the daemon serving mountpoint (resolved).
func callControl(ctx context.Context, mountpoint string, req daemon.Request) (daemon.Reply, error) {
	reply, err := daemon.Call(ctx, daemon.SocketPath(runDir, mountpoint), req)
	if errors.Is(err, daemon.ErrNoDaemon) {
		return reply, fmt.Errorf("%w: no coffer daemon serves %s", errNotMounted, mountpoint)
	}
	if err != nil {
		return reply, fmt.Errorf("the daemon serving %s: %w", mountpoint, err)
	}
	if reply.Error != "" {
		return reply, remoteError{msg: reply.Error, code: reply.Code}
	}
	return reply, nil
}

// describeForClient renders an error for a control client.
func describeForClient(err error) (string, int) { return describe(err), exitCode(err) }
