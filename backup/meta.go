package backup

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// nodeOf describes the local entry at path, as lstat'ed in st, for a tree:
// the fields a mount records for the same entry. Contents (blocks) and
// directory totals are filled in later.
func nodeOf(path, name string, st *unix.Stat_t) (repo.Node, error) {
	n := repo.Node{
		Name: name, Mode: uint32(st.Mode) & 0o7777, UID: st.Uid, GID: st.Gid,
		Mtime: unix.TimespecToNsec(st.Mtim), Atime: unix.TimespecToNsec(st.Atim), Ctime: unix.TimespecToNsec(st.Ctim),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		n.Type = repo.TypeFile
		n.SrcIno, n.SrcCtime = st.Ino, n.Ctime
	case unix.S_IFDIR:
		n.Type = repo.TypeDir
	case unix.S_IFLNK:
		n.Type = repo.TypeSymlink
		target, err := readlink(path, st.Size)
		if err != nil {
			return n, err
		}
		n.Target = target
		// readlink(2) sets the link's atime, and no flag prevents it:
		// record the time it leaves, so that the next backup (relatime
		// updates it once) finds the tree unchanged.
		var after unix.Stat_t
		if unix.Lstat(path, &after) == nil && after.Ino == st.Ino {
			n.Atime = unix.TimespecToNsec(after.Atim)
		}
	case unix.S_IFIFO:
		n.Type = repo.TypeFIFO
	case unix.S_IFCHR:
		n.Type, n.Rdev = repo.TypeChar, st.Rdev
	case unix.S_IFBLK:
		n.Type, n.Rdev = repo.TypeBlock, st.Rdev
	case unix.S_IFSOCK:
		n.Type = repo.TypeSocket
	default:
		return n, fmt.Errorf("unknown file type %#o", st.Mode&unix.S_IFMT)
	}
	xattrs, err := readXattrs(path)
	if err != nil {
		return n, err
	}
	n.Xattrs = xattrs
	return n, nil
}

func readlink(path string, size int64) (string, error) {
	buf := make([]byte, max(size, 64)+1)
	for {
		k, err := unix.Readlink(path, buf)
		if err != nil {
			return "", err
		}
		if k < len(buf) {
			return string(buf[:k]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// readXattrs reads every extended attribute of path (not following a
// symlink), sorted by name, as the kernel gives them to a mount: POSIX
// ACLs appear as system.posix_acl_* only when they say more than the mode.
// security.selinux is left out: the host's policy sets it, and a mount
// does not store it either.
func readXattrs(path string) ([]repo.Xattr, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || (err == nil && size == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list extended attributes: %w", err)
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(path, buf); err != nil {
		return nil, fmt.Errorf("list extended attributes: %w", err)
	}
	var out []repo.Xattr
	for _, name := range strings.FieldsFunc(string(buf[:size]), func(r rune) bool { return r == 0 }) {
		if name == "security.selinux" {
			continue
		}
		v, err := getxattr(path, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("read extended attribute %s: %w", name, err)
		}
		out = append(out, repo.Xattr{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b repo.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func getxattr(path, name string) ([]byte, error) {
	for {
		size, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, size)
		k, err := unix.Lgetxattr(path, name, v)
		if errors.Is(err, unix.ERANGE) {
			continue // grew since
		}
		if err != nil {
			return nil, err
		}
		return v[:k], nil
	}
}
