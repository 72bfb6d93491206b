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

// Setxattr sets an extended attribute; it is kept in snapshots.
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	n.h.treeMu.RLock()
	defer n.h.treeMu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	_, exists := n.xattrs[attr]
	switch {
	case flags&xattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&xattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	if n.xattrs == nil {
		n.xattrs = make(map[string][]byte)
	}
	n.xattrs[attr] = append([]byte(nil), data...)
	n.ctime = n.h.now()
	n.attrsChanged()
	return 0
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
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.xattrs[attr]; !ok {
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
