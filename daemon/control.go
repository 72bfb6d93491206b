package daemon

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The control socket: one JSON request, one JSON reply, per connection.

// Request is what `coffer snapshot` or `coffer umount` asks.
type Request struct {
	Op   string   `json:"op"` // "ping", "snapshot" or "umount"
	Tags []string `json:"tags,omitempty"`
}

// Reply is the daemon's answer. Error is set when the request failed, and
// Code is then the exit status the client should use.
type Reply struct {
	ID      string    `json:"id,omitempty"`
	Time    time.Time `json:"time,omitempty"`
	Created bool      `json:"created,omitempty"`
	// Summary says what a snapshot request's commit did.
	Summary *CommitSummary `json:"summary,omitempty"`
	Error   string         `json:"error,omitempty"`
	Code    int            `json:"code,omitempty"`
}

// ErrNoDaemon means no daemon answers on a mountpoint's socket.
var ErrNoDaemon = errors.New("no coffer daemon serves it")

// SocketPath names the control socket of the daemon serving mountpoint
// (an absolute path with symlinks resolved) in the runtime directory dir.
func SocketPath(dir, mountpoint string) string {
	sum := sha256.Sum256([]byte(mountpoint))
	return filepath.Join(dir, hex.EncodeToString(sum[:8])+".sock")
}

// handler answers one request; done, if not nil, runs once the reply has
// reached the client (the connection is closed).
type handler func(ctx context.Context, req Request) (reply Reply, done func())

// listen serves the socket at path until the returned stop is called.
func listen(ctx context.Context, path string, handle handler) (stop func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Remove(path) // a dead daemon's socket
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go answer(ctx, conn, handle)
		}
	}()
	return func() { ln.Close(); _ = os.Remove(path) }, nil
}

func answer(ctx context.Context, conn net.Conn, handle handler) {
	var req Request
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
		conn.Close()
		return
	}
	reply, done := handle(ctx, req)
	_ = json.NewEncoder(conn).Encode(reply)
	conn.Close()
	if done != nil {
		done()
	}
}

// Call sends req to the daemon whose socket is at path and returns its
// reply. It fails with ErrNoDaemon if nothing listens there; a reply that
// reports an error is returned with a nil error: see Reply.Error.
func Call(ctx context.Context, path string, req Request) (Reply, error) {
	var reply Reply
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return reply, ErrNoDaemon
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return reply, err
	}
	if err := json.NewDecoder(conn).Decode(&reply); err != nil {
		return reply, fmt.Errorf("the daemon did not answer: %w", err)
	}
	return reply, nil
}
