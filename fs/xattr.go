package fs

import (
	"context"
	"slices"
	"strings"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"coffer/repo"
)

var (
	_ = (fusefs.NodeGetxattrer)((*node)(nil))
	_ = (fusefs.NodeSetxattrer)((*node)(nil))
	_ = (fusefs.NodeListxattrer)((*node)(nil))
	_ = (fusefs.NodeRemovexattrer)((*node)(nil))
)

// Linux setxattr flags.
const (
	xattrCreate  = 1
	xattrReplace = 2
)

// getXattr copies value into dest as getxattr(2) does.
func getXattr(value []byte, ok bool, dest []byte) (uint32, syscall.Errno) {
	if !ok {
		return 0, syscall.ENODATA
	}
	if len(dest) == 0 {
		return uint32(len(value)), 0
	}
	if len(dest) < len(value) {
		return uint32(len(value)), syscall.ERANGE
	}
	return uint32(copy(dest, value)), 0
}

// listXattrs writes names NUL-separated as listxattr(2) does.
func listXattrs(names []string, dest []byte) (uint32, syscall.Errno) {
	slices.Sort(names)
	size := 0
	for _, k := range names {
		size += len(k) + 1
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, k := range names {
		off += copy(dest[off:], k)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

// Getxattr reads an extended attribute.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.xattrs[attr]
	return getXattr(v, ok, dest)
}

// Setxattr sets an extended attribute; it is kept in snapshots. POSIX
// ACLs are the mode's permission bits where they can be (setACL).
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.pin(ctx); errno != 0 {
		return errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, exists := n.xattrs[attr]
	switch {
	case flags&xattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&xattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	switch attr {
	case aclAccess, aclDefault:
		if errno := n.setACL(attr, data); errno != 0 {
			return errno
		}
	default:
		n.putXattr(attr, append([]byte(nil), data...))
	}
	n.ctime = n.h.now()
	n.attrsChanged()
	return 0
}

// putXattr stores an extended attribute; mu must be held.
func (n *node) putXattr(attr string, value []byte) {
	if n.xattrs == nil {
		n.xattrs = make(map[string][]byte)
	}
	n.xattrs[attr] = value
}

// setACL applies an ACL the way ext4 does (see acl.go): an access ACL
// sets the mode's permission bits and is stored only if it says more than
// they can; a default ACL is kept as it is, on directories only. mu must
// be held.
func (n *node) setACL(attr string, data []byte) syscall.Errno {
	a, err := parseACL(data)
	if err != nil {
		return syscall.EINVAL
	}
	if attr == aclDefault {
		if n.kind != repo.TypeDir {
			return syscall.EACCES
		}
		n.putXattr(attr, a.encode())
		return 0
	}
	n.mode = a.applyTo(n.mode)
	if a.minimal() {
		delete(n.xattrs, attr)
	} else {
		n.putXattr(attr, a.encode())
	}
	return 0
}

// chmodACL carries a mode change into the stored access ACL, if there is
// one; mu must be held.
func (n *node) chmodACL() {
	b, ok := n.xattrs[aclAccess]
	if !ok {
		return
	}
	a, err := parseACL(b)
	if err != nil {
		return // stored as it came, before coffer checked ACLs; keep it
	}
	n.xattrs[aclAccess] = a.chmod(n.mode).encode()
}

// inheritACL gives a new entry of dir the access ACL (and, for a
// directory, the default ACL) that dir's default ACL makes for it, and
// narrows its mode to match, as Linux's posix_acl_create does. dir.mu
// must not be held; c is not yet visible. Under a default ACL the mode
// comes without the umask applied (see Head.Mount), as on ext4.
func (c *node) inheritACL(dir *node) {
	dir.mu.Lock()
	b, ok := dir.xattrs[aclDefault]
	dir.mu.Unlock()
	if !ok {
		return
	}
	a, err := parseACL(b)
	if err != nil {
		return
	}
	if c.kind == repo.TypeDir {
		c.putXattr(aclDefault, a.encode())
	}
	if c.kind == repo.TypeSymlink {
		return
	}
	access, mode := a.inherit(c.mode)
	c.mode = mode
	if !access.minimal() {
		c.putXattr(aclAccess, access.encode())
	}
}

// Listxattr lists extended attribute names.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := make([]string, 0, len(n.xattrs))
	for k := range n.xattrs {
		names = append(names, k)
	}
	return listXattrs(names, dest)
}

// Removexattr removes an extended attribute.
func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	if errno := n.pin(ctx); errno != 0 {
		return errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.xattrs[attr]; !ok {
		if attr == aclAccess || attr == aclDefault {
			return 0 // as on ext4: no ACL to remove is not an error
		}
		return syscall.ENODATA
	}
	delete(n.xattrs, attr)
	n.ctime = n.h.now()
	n.attrsChanged()
	return 0
}

func sortXattrs(x []repo.Xattr) {
	slices.SortFunc(x, func(a, b repo.Xattr) int { return strings.Compare(a.Name, b.Name) })
}
