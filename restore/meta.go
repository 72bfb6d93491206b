package restore

import (
	"errors"
	"fmt"
	"slices"
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
// snapshot does not have are removed. An entry that is mine (made by
// this restore in a directory it made) is owned by this process already,
// so a chown to that owner is left out: a file system journals even a
// chown that changes nothing.
func (x *Restorer) setMeta(full string, n repo.Node, existed, mine bool) error {
	var errs []error
	if x.chown && !(mine && int(n.UID) == x.uid && int(n.GID) == x.gid) {
		if err := unix.Lchown(full, int(n.UID), int(n.GID)); err != nil {
			errs = append(errs, fmt.Errorf("set owner %d:%d: %w", n.UID, n.GID, err))
		}
	}
	if n.Type != repo.TypeSymlink {
		if existed {
			if err := dropOtherXattrs(full, n.Xattrs); err != nil {
				errs = append(errs, err)
			}
		}
		for _, a := range n.Xattrs {
			if err := unix.Lsetxattr(full, a.Name, a.Value, 0); err != nil {
				errs = append(errs, fmt.Errorf("set extended attribute %s: %w", a.Name, err))
			}
		}
		if err := unix.Chmod(full, n.Mode&0o7777); err != nil {
			errs = append(errs, fmt.Errorf("set mode %04o: %w", n.Mode&0o7777, err))
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.Atime), unix.NsecToTimespec(n.Mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, fmt.Errorf("set times: %w", err))
	}
	return errors.Join(errs...)
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
