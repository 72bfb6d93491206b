package restore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// setMeta gives the entry at full n's owner, extended attributes (POSIX
// ACLs among them, as system.posix_acl_* in Linux's binary form, which
// the kernel takes as it gave them), mode and times, in that order: a
// chown clears setuid bits and file capabilities, setting an ACL sets
// the mode's group bits, and anything but the times changes the ctime
// only. When the entry existed before the restore, attributes the
// snapshot does not have are removed. An entry made by this restore in a
// directory it made is owned by this process already, so a chown to that
// owner is left out, as is a chmod of a file made with its mode: a file
// system journals even a change that changes nothing.
func (x *Restorer) setMeta(full string, n repo.Node, how made) error {
	var errs []error
	if x.chown && !(how&mine != 0 && int(n.UID) == x.uid && int(n.GID) == x.gid) {
		if err := unix.Lchown(full, int(n.UID), int(n.GID)); err != nil {
			errs = append(errs, fmt.Errorf("set owner %d:%d: %w", n.UID, n.GID, err))
		}
	}
	if n.Type != repo.TypeSymlink {
		if how&existed != 0 {
			if err := dropOtherXattrs(full, n.Xattrs); err != nil {
				errs = append(errs, err)
			}
		}
		for _, a := range n.Xattrs {
			if err := unix.Lsetxattr(full, a.Name, a.Value, 0); err != nil {
				errs = append(errs, fmt.Errorf("set extended attribute %s: %w", a.Name, err))
			}
		}
		if how&modeSet == 0 {
			if err := unix.Chmod(full, n.Mode&0o7777); err != nil {
				errs = append(errs, fmt.Errorf("set mode %04o: %w", n.Mode&0o7777, err))
			}
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.Atime), unix.NsecToTimespec(n.Mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
}

// made says how an entry came to be where it is.
type made uint8

const (
	existed made = 1 << iota // it was there before the restore
	mine                     // the restore made it, in a directory it made
	modeSet                  // it was made with its mode (createMode)
)

func madeHere(inFresh bool) made {
	if inFresh {
		return mine
	}
	return 0
}

// createMode is the mode to make a file of the restore with: its own
// when that is what the file system will give it, so no chmod follows
// (the restore made the directory, so no default ACL applies; no setuid,
// setgid or sticky bit, which the kernel may drop; no ACL, which sets the
// mode itself; and the umask clears none of its bits), else 0600 until
// its metadata is set.
func (x *Restorer) createMode(n repo.Node, how made) (uint32, made) {
	perm := n.Mode & 0o7777
	if how&mine == 0 || x.umask < 0 || perm&0o7000 != 0 || perm&uint32(x.umask) != 0 || perm&0o200 == 0 ||
		slices.ContainsFunc(n.Xattrs, func(a repo.Xattr) bool { return strings.HasPrefix(a.Name, "system.posix_acl") }) {
		return 0o600, how
	}
	return perm, how | modeSet
}

// processUmask reads this process's umask without changing it (the
// umask call sets it as it reads it, for every goroutine at once); -1
// when /proc does not say.
func processUmask() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return int(m)
			}
		}
	}
	return -1
}

// dropOtherXattrs removes the extended attributes of full that keep are
// not, leaving security.selinux, which the host's policy sets.
func dropOtherXattrs(full string, keep []repo.Xattr) error {
	names, err := listXattrs(full)
	if err != nil {
		return err
	}
	for _, name := range names {
		if name == "security.selinux" || slices.ContainsFunc(keep, func(a repo.Xattr) bool { return a.Name == name }) {
			continue
		}
		if err := unix.Lremovexattr(full, name); err != nil {
			return fmt.Errorf("remove extended attribute %s: %w", name, err)
		}
	}
	return nil
}

func listXattrs(full string) ([]string, error) {
	size, err := unix.Llistxattr(full, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(full, buf)
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(string(buf[:size]), func(r rune) bool { return r == 0 }), nil
}
