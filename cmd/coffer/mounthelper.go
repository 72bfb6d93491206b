package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/term"

	"coffer/daemon"
)

// coffer as mount(8)'s helper for /etc/fstab lines of type fuse.coffer:
//
//	s3://bucket/web1  /backup  fuse.coffer  key-file=/etc/coffer/key,_netdev  0 0
//
// mount(8) runs /sbin/mount.fuse.coffer SOURCE MOUNTPOINT -o OPTIONS (a
// symlink to coffer) and waits for it, so the helper starts `coffer mount`
// in a session of its own and returns once that daemon tells it, by the
// sd_notify protocol on a socket of the helper's, that the mount serves;
// or with the daemon's exit status if it failed first.

// mountHelperNames are the names coffer answers to as a mount helper.
var mountHelperNames = map[string]bool{"mount.fuse.coffer": true, "mount.coffer": true}

// helperValueOptions are the mount options that take a value, each
// passed on as the `coffer mount` flag of the same name ('_' may stand
// for '-').
var helperValueOptions = map[string]bool{
	"key-file": true, "password-file": true, "endpoint": true, "region": true, "ca-bundle": true,
	"cache-dir": true, "cache-size": true, "cache-dir-size": true, "max-files-loaded": true, "snapshot": true, "as-of": true,
	"parent": true, "snapshot-every": true, "checkpoint-every": true, "stop-timeout": true,
	"metrics-listen": true, "log-format": true,
}

// helperFlagOptions are the options that are `coffer mount` switches.
var helperFlagOptions = map[string]bool{
	"allow-other": true, "nonempty": true, "insecure-http": true, "path-style": true,
	"metrics-allow-remote": true, "verbose": true, "ignore-revocations": true,
}

// helperIgnored are generic options mount(8), fstab or systemd use, which
// mean nothing to coffer (x-* and comment= are ignored too).
var helperIgnored = map[string]bool{
	"defaults": true, "rw": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "owner": true, "_netdev": true, "nofail": true, "dev": true, "nodev": true,
	"suid": true, "nosuid": true, "exec": true, "noexec": true, "async": true, "atime": true,
	"noatime": true, "relatime": true,
}

// helperCall is one invocation of the helper, parsed.
type helperCall struct {
	source, mountpoint string
	args               []string // for `coffer mount`, before --repo and the mountpoint
	logFile            string   // log-file=: where the daemon's log goes
	fake               bool     // -f: do everything but mount
}

// parseHelperArgs reads SOURCE MOUNTPOINT [-o OPTIONS] [-n] [-s] [-f]
// [-v] [-t TYPE], as mount(8) and mount.fuse3 pass them.
func parseHelperArgs(args []string) (helperCall, error) {
	var c helperCall
	var pos []string
	ro := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t":
			if i+1 == len(args) {
				return c, fmt.Errorf("%s needs a value", a)
			}
			i++
			if a == "-o" {
				var err error
				if ro, err = c.addOptions(args[i], ro); err != nil {
					return c, err
				}
			}
		case strings.HasPrefix(a, "-o"):
			var err error
			if ro, err = c.addOptions(a[2:], ro); err != nil {
				return c, err
			}
		case a == "-f":
			c.fake = true
		case a == "-n", a == "-s", a == "-v":
			// no mtab to write, sloppy and verbose: nothing to do
		case strings.HasPrefix(a, "-"):
			return c, fmt.Errorf("unknown argument %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return c, errors.New("want SOURCE MOUNTPOINT [-o OPTIONS]")
	}
	c.source, c.mountpoint = strings.TrimPrefix(pos[0], "coffer#"), pos[1]
	if ro && !containsPrefix(c.args, "--snapshot=") {
		return c, errors.New("ro: the head is writable; to mount a snapshot read-only give snapshot=latest (or an ID)")
	}
	return c, nil
}

// addOptions adds one -o list; ro says whether "ro" was seen.
func (c *helperCall) addOptions(list string, ro bool) (bool, error) {
	for _, o := range strings.Split(list, ",") {
		name, value, hasValue := strings.Cut(o, "=")
		flag := strings.ReplaceAll(name, "_", "-")
		switch {
		case o == "":
		case o == "ro":
			ro = true
		case helperIgnored[name] || strings.HasPrefix(name, "x-") || name == "comment":
		case name == "log-file" || name == "log_file":
			c.logFile = value
		case helperValueOptions[flag] && hasValue && value != "":
			c.args = append(c.args, "--"+flag+"="+value)
		case helperFlagOptions[flag] && !hasValue:
			c.args = append(c.args, "--"+flag)
		case helperValueOptions[flag]:
			return ro, fmt.Errorf("option %s needs a value (%s=...)", name, name)
		default:
			return ro, fmt.Errorf("unknown mount option %q (see 'coffer mount --help'; options are its flags without the dashes)", name)
		}
	}
	return ro, nil
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// runMountHelper starts the daemon and waits until it serves.
func runMountHelper(ctx context.Context, args []string) error {
	c, err := parseHelperArgs(args)
	if err != nil {
		return usageError{fmt.Errorf("%w (usage: mount.fuse.coffer SOURCE MOUNTPOINT -o key-file=PATH,...)", err)}
	}
	mp, err := resolveMountpoint(c.mountpoint)
	if err != nil {
		return err
	}
	if c.fake {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The daemon's log: log-file=, else the helper's stderr when it is
	// not a terminal (systemd gives a mount unit's helper the journal),
	// else a file beside the control socket, named when mounted.
	logPath := c.logFile
	logOut := os.Stderr
	if logPath == "" && term.IsTerminal(int(os.Stderr.Fd())) {
		logPath = strings.TrimSuffix(daemon.SocketPath(runDir, mp), ".sock") + ".log"
	}
	if logPath != "" {
		if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
			return err
		}
		if logOut, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("log-file: %w", err)
		}
		defer logOut.Close()
	}
	sockDir, err := os.MkdirTemp("", "coffer-mount-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()

	cmd := exec.Command(self, append(append([]string{"mount"}, c.args...), "--repo", c.source, mp)...)
	cmd.Env = append(withoutEnv(os.Environ(), "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"), "NOTIFY_SOCKET="+sock)
	cmd.Stdout, cmd.Stderr = logOut, logOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the helper and its terminal
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l == "READY=1" {
					close(ready)
					return
				}
			}
		}
	}()
	select {
	case <-ready:
		if logPath != "" && c.logFile == "" {
			fmt.Fprintf(os.Stderr, "coffer: mounted %s; its log is %s\n", mp, logPath)
		}
		return nil
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			if logPath != "" {
				err = fmt.Errorf("the mount failed (its log, %s, says why)", logPath)
			} else {
				err = errors.New("the mount failed")
			}
			return remoteError{msg: err.Error(), code: ee.ExitCode()}
		}
		return fmt.Errorf("the mount daemon stopped before serving: %v", err)
	case <-ctx.Done():
		// Interrupted while mounting: stop the daemon we started.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		return ctx.Err()
	}
}

// withoutEnv is env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
