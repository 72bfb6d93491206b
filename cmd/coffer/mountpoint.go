package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"coffer/daemon"
)

// resolveMountpoint makes a mountpoint argument absolute and resolves
// symlinks, so a link to the mountpoint names the same daemon. A stale
// mount (its daemon died) cannot be looked into, so the links are then
// followed one by one up to it.
func resolveMountpoint(arg string) (string, error) {
	mp, err := filepath.Abs(arg)
	if err != nil {
		return "", err
	}
	for range 40 { // as many links as the kernel follows
		if real, err := filepath.EvalSymlinks(mp); err == nil {
			return real, nil
		}
		fi, err := os.Lstat(mp)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		target, err := os.Readlink(mp)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(mp), target)
		}
		mp = filepath.Clean(target)
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(mp)); err == nil {
		return filepath.Join(dir, filepath.Base(mp)), nil
	}
	return mp, nil
}

// checkMountpoint refuses what is not an empty directory: mounting over a
// file cannot work, and mounting over files hides them (unless nonempty).
func checkMountpoint(mp string, nonempty bool) error {
	fi, err := os.Stat(mp)
	if err != nil {
		return usageError{fmt.Errorf("mountpoint: %w", err)}
	}
	if !fi.IsDir() {
		return usageError{fmt.Errorf("mountpoint %s is not a directory (mount on an empty directory)", mp)}
	}
	if nonempty {
		return nil
	}
	d, err := os.Open(mp)
	if err != nil {
		return fmt.Errorf("mountpoint: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("mountpoint: %w", err)
	}
	if len(names) > 0 {
		return usageError{fmt.Errorf("mountpoint %s is not empty (its files would be hidden while mounted): use an empty directory, or --nonempty to mount over them", mp)}
	}
	return nil
}

// clearStale unmounts what a killed coffer left at mp ("transport endpoint
// is not connected"), and refuses a mountpoint another coffer serves.
func clearStale(ctx context.Context, mp string, log *slog.Logger) error {
	err := probeMount(mp)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		log.Warn("clearing the stale mount left by a coffer that stopped without unmounting", "mountpoint", mp)
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("clear stale mount at %s: %w", mp, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	}
	if isMounted(mp) {
		if _, err := callControl(ctx, mp, daemon.Request{Op: "ping"}); err == nil || !errors.Is(err, errNotMounted) {
			return fmt.Errorf("%s is already mounted by a running coffer", mp)
		}
		return fmt.Errorf("%s is already a mountpoint of something else", mp)
	}
	return nil
}

// isMounted reports whether mp is a mountpoint, from /proc/self/mountinfo.
func isMounted(mp string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && unescapeMount(fields[4]) == mp {
			return true
		}
	}
	return false
}

// mountinfoUnescaper undoes the octal escapes of mountinfo's fields.
var mountinfoUnescaper = strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)

func unescapeMount(s string) string { return mountinfoUnescaper.Replace(s) }

// probeMount asks the filesystem at mp for its statistics. Unlike stat,
// which the kernel may answer from its cache, statfs always reaches a FUSE
// daemon, so a dead one shows as ENOTCONN.
func probeMount(mp string) error {
	var st unix.Statfs_t
	return unix.Statfs(mp, &st)
}
