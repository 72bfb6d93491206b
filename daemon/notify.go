package daemon

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"coffer/bytesize"
	"coffer/duration"
)

// Notifier tells a service manager how the mount is doing, with systemd's
// sd_notify protocol: one datagram of newline-separated VAR=value lines
// to the unix socket named by $NOTIFY_SOCKET (a name starting with '@' is
// in the abstract namespace). A unit with Type=notify waits for READY=1
// before it counts the mount as started (so units ordered after it find
// the mountpoint mounted), shows STATUS= in `systemctl status`, and, with
// WatchdogSec=, restarts a daemon that stops sending WATCHDOG=1.
//
// The protocol is a few lines; go-systemd's daemon package would add a
// dependency for SdNotify and SdWatchdogEnabled alone.
//
// A nil *Notifier sends nothing. Sending is best effort, as sd_notify(3)
// is: a service manager that does not listen must not stop the mount.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // 0: no watchdog

	mu   sync.Mutex // serialises sends, so each datagram is whole
	conn *net.UnixConn
}

// NewNotifier returns a notifier for the socket named by a NOTIFY_SOCKET
// value, or nil when socket is empty. watchdogUsec and watchdogPID are
// the values of WATCHDOG_USEC and WATCHDOG_PID: the watchdog is on when
// the interval parses and positive, and WATCHDOG_PID, if set, is pid
// (the variables may have been inherited from a parent they were meant
// for).
func NewNotifier(socket, watchdogUsec, watchdogPID string, pid int) (*Notifier, error) {
	if socket == "" {
		return nil, nil
	}
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return nil, fmt.Errorf("NOTIFY_SOCKET %q: want an absolute path or an @abstract name", socket)
	}
	// Go's net package, like sd_notify, reads a leading '@' as the
	// abstract namespace.
	n := &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
	if us, err := strconv.ParseInt(watchdogUsec, 10, 64); err == nil && us > 0 &&
		(watchdogPID == "" || watchdogPID == strconv.Itoa(pid)) {
		n.watchdog = time.Duration(us) * time.Microsecond
	}
	return n, nil
}

// WatchdogInterval is how often the service manager wants WATCHDOG=1; 0
// when it does not.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Send sends one datagram of lines ("READY=1", "STATUS=..."). A status
// may not hold a newline; one that does is cut there.
func (n *Notifier) Send(lines ...string) error {
	if n == nil || len(lines) == 0 {
		return nil
	}
	for i, l := range lines {
		if j := strings.IndexByte(l, '\n'); j >= 0 {
			lines[i] = l[:j]
		}
	}
	msg := []byte(strings.Join(lines, "\n") + "\n")
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		conn, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("sd_notify: %w", err)
		}
		n.conn = conn
	}
	if _, err := n.conn.Write(msg); err != nil {
		// The manager may have restarted its socket: dial again next time.
		n.conn.Close()
		n.conn = nil
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Close releases the socket.
func (n *Notifier) Close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
}

// notify sends lines to the service manager, logging (at debug: a
// manager that does not listen is not the mount's problem) a failure.
func (d *Daemon) notify(lines ...string) {
	if err := d.cfg.Notify.Send(lines...); err != nil {
		d.log.Debug("service manager not told", "lines", lines, "err", err)
	}
}

// watchdog sends WATCHDOG=1 at half the interval the manager asked for,
// as sd_watchdog_enabled(3) advises, until stop is closed. It proves the
// daemon is alive and scheduled, not that the store
// is reachable: an outage is reported by the writes that wait for it,
// and restarting the daemon would not heal it.
func (d *Daemon) watchdog(stop <-chan struct{}) {
	every := d.cfg.Notify.WatchdogInterval() / 2
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.notify("WATCHDOG=1")
		}
	}
}

// statusLine is the STATUS= a commit leaves: what `systemctl status`
// shows until the next one.
func statusLine(mountpoint string, c CommitSummary) string {
	return fmt.Sprintf("STATUS=serving %s; last snapshot %s: %d files, %s new in the store, took %s",
		mountpoint, c.Time.UTC().Format(time.RFC3339), c.Files, bytesize.IEC(uint64(max(c.Stored, 0))),
		duration.Format(c.Took.Round(time.Millisecond)))
}
