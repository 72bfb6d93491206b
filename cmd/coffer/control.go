package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The control socket lets `coffer snapshot` and `coffer umount` talk to
// the daemon serving a mountpoint: one JSON request, one JSON reply.

const controlDir = "/run/coffer"

type controlRequest struct {
	Op   string   `json:"op"` // "snapshot" or "umount"
	Tags []string `json:"tags,omitempty"`
}

type controlReply struct {
	ID      string    `json:"id,omitempty"`
	Time    time.Time `json:"time,omitempty"`
	Created bool      `json:"created,omitempty"`
	Error   string    `json:"error,omitempty"`
	Code    int       `json:"code,omitempty"` // the exit code the error maps to
}

// failed is a reply for err, carrying its exit code to the client.
func failed(err error) controlReply {
	return controlReply{Error: describe(err), Code: exitCode(err)}
}

// remoteError is an error the daemon reported, with its exit code.
type remoteError struct {
	msg  string
	code int
}

func (e remoteError) Error() string { return e.msg }

// socketPath names the control socket of the daemon serving mountpoint.
func socketPath(mountpoint string) string {
	sum := sha256.Sum256([]byte(mountpoint))
	return filepath.Join(controlDir, hex.EncodeToString(sum[:8])+".sock")
}

// serveControl answers requests until the returned stop is called. handle
// runs one request; its after func, if any, runs once the reply is sent.
func serveControl(ctx context.Context, mountpoint string, handle func(context.Context, controlRequest) (controlReply, func())) (func(), error) {
	if err := os.MkdirAll(controlDir, 0o700); err != nil {
		return nil, err
	}
	path := socketPath(mountpoint)
	_ = os.Remove(path) // a dead daemon's socket
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var req controlRequest
				if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
					return
				}
				reply, after := handle(ctx, req)
				_ = json.NewEncoder(conn).Encode(reply)
				if after != nil {
					after()
				}
			}()
		}
	}()
	return func() { ln.Close(); _ = os.Remove(path) }, nil
}

// callControl sends req to the daemon serving mountpoint.
func callControl(ctx context.Context, mountpoint string, req controlRequest) (controlReply, error) {
	var reply controlReply
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath(mountpoint))
	if err != nil {
		return reply, fmt.Errorf("%w: no coffer daemon serves %s", errNotMounted, mountpoint)
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return reply, err
	}
	if err := json.NewDecoder(conn).Decode(&reply); err != nil {
		return reply, fmt.Errorf("the daemon serving %s did not answer: %w", mountpoint, err)
	}
	if reply.Error != "" {
		return reply, remoteError{msg: reply.Error, code: reply.Code}
	}
	return reply, nil
}
