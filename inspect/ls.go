package inspect

import (
	"context"
	"fmt"
	"path"
	"time"

	"coffer/repo"
)

// Entry is one node a listing reaches: its path in the snapshot
// ("/etc/passwd") and its link count (1 unless hard-linked).
type Entry struct {
	Path  string
	Node  repo.Node
	Links uint32
}

// ListOptions tune List.
type ListOptions struct {
	// Recursive lists what is beneath each directory too.
	Recursive bool
	// OnDamage, if set, hears of a directory whose tree, or a snapshot
	// whose link table, is damaged or missing (damagedOrMissing): returning
	// nil lists the rest without it (a damaged link table counts every
	// link as 1). Without it, and always for a store that fails, the
	// listing ends with the error.
	OnDamage func(p string, err error) error
}

// List calls fn for what p names in snapshot s, as ls does: a directory's
// entries in name order (with o.Recursive, each followed by what is
// beneath it, depth first), or p itself if it is not a directory.
//
// It descends every directory, not repo.Walker: a walker visits each
// tree once, and a listing must show every directory whose contents
// happen to be the same as another's (every empty directory, for one).
func List(ctx context.Context, r *repo.Repository, s *repo.Snapshot, p string, o ListOptions, fn func(Entry) error) error {
	n, err := r.LookupPath(ctx, s, p)
	if err != nil {
		return err
	}
	l := lister{r: r, o: o, fn: fn}
	if l.links, err = r.LoadLinks(ctx, s.Links); err != nil {
		if err = l.damaged("link table of snapshot "+s.ID, err); err != nil {
			return err
		}
	}
	if n.Type != repo.TypeDir {
		return l.emit(path.Clean("/"+p), n)
	}
	if o.Recursive {
		defer startReadAhead(ctx, r, n.Subtree, nil)()
	}
	return l.dir(ctx, path.Clean("/"+p), n)
}

type lister struct {
	r     *repo.Repository
	o     ListOptions
	links repo.LinkTable
	fn    func(Entry) error
}

// damaged hands damage at p to OnDamage, or returns it.
func (l *lister) damaged(p string, err error) error {
	err = fmt.Errorf("%s: %w", p, err)
	if l.o.OnDamage == nil || !damagedOrMissing(err) {
		return err
	}
	return l.o.OnDamage(p, err)
}

func (l *lister) emit(p string, n repo.Node) error {
	links := uint32(1)
	if c, ok := l.links[n.Link]; ok && n.Link != 0 {
		links = c
	}
	return l.fn(Entry{Path: p, Node: n, Links: links})
}

// dir lists directory node n at p.
func (l *lister) dir(ctx context.Context, p string, n repo.Node) error {
	t, err := l.r.LoadTree(ctx, n.Subtree)
	if err != nil {
		return l.damaged(p, err)
	}
	for _, c := range t.Nodes {
		cp := path.Join(p, c.Name)
		if err := l.emit(cp, c); err != nil {
			return err
		}
		if l.o.Recursive && c.Type == repo.TypeDir {
			if err := l.dir(ctx, cp, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// NodeJSON is one line of `coffer ls --json`, and the node in a line of
// `coffer diff --json`. Times are UTC, RFC 3339 with nanoseconds.
type NodeJSON struct {
	Path        string   `json:"path"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`        // file, dir, symlink, fifo, char, block, socket
	Mode        string   `json:"mode"`        // permission bits in octal, with setuid, setgid, sticky: "0755"
	Permissions string   `json:"permissions"` // as ls -l shows them: "-rwxr-xr-x"
	UID         uint32   `json:"uid"`
	GID         uint32   `json:"gid"`
	Size        uint64   `json:"size"`            // bytes of a file; 0 for others
	Links       uint32   `json:"links,omitempty"` // ls only: the link count
	Mtime       string   `json:"mtime"`
	Atime       string   `json:"atime"`
	Ctime       string   `json:"ctime"`
	Target      string   `json:"target,omitempty"` // a symlink's target
	Major       *uint32  `json:"major,omitempty"`  // a device's numbers
	Minor       *uint32  `json:"minor,omitempty"`
	Xattrs      []string `json:"xattrs,omitempty"` // extended attribute names
}

// JSON is e's line of `coffer ls --json`.
func (e Entry) JSON() NodeJSON {
	n := e.Node
	j := NodeJSON{Path: e.Path, Name: n.Name, Type: string(n.Type), Mode: fmt.Sprintf("%04o", n.Mode&0o7777),
		Permissions: Permissions(n.Type, n.Mode), UID: n.UID, GID: n.GID, Size: e.Size(), Links: e.Links,
		Mtime: nanoTime(n.Mtime), Atime: nanoTime(n.Atime), Ctime: nanoTime(n.Ctime), Target: n.Target}
	if n.Type == repo.TypeChar || n.Type == repo.TypeBlock {
		major, minor := devNumbers(n.Rdev)
		j.Major, j.Minor = &major, &minor
	}
	for _, x := range n.Xattrs {
		j.Xattrs = append(j.Xattrs, x.Name)
	}
	return j
}

// Long is e as a line of `coffer ls -l`: permissions, links, owner and
// group (numeric: the names are the backed-up machine's, not this
// one's), size (or a device's numbers), mtime in UTC, path, and a
// symlink's target.
func (e Entry) Long() string {
	n := e.Node
	size := fmt.Sprintf("%d", e.Size())
	if n.Type == repo.TypeChar || n.Type == repo.TypeBlock {
		major, minor := devNumbers(n.Rdev)
		size = fmt.Sprintf("%d, %d", major, minor)
	}
	line := fmt.Sprintf("%s %3d %5d %5d %12s %s %s", Permissions(n.Type, n.Mode), e.Links, n.UID, n.GID, size,
		time.Unix(0, n.Mtime).UTC().Format("2006-01-02 15:04:05"), e.Path)
	if n.Type == repo.TypeSymlink {
		line += " -> " + n.Target
	}
	return line
}

// Size is what lstat says of e's size: a file's bytes, the length of a
// symlink's target, 0 for the others.
func (e Entry) Size() uint64 {
	if e.Node.Type == repo.TypeSymlink {
		return uint64(len(e.Node.Target))
	}
	return e.Node.Size
}

func nanoTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// devNumbers splits a Linux dev_t as glibc's major() and minor() do.
func devNumbers(rdev uint64) (major, minor uint32) {
	major = uint32((rdev>>32)&0xfffff000 | (rdev>>8)&0xfff)
	minor = uint32((rdev>>12)&0xffffff00 | rdev&0xff)
	return major, minor
}

// Permissions renders a node's type and mode as ls -l does.
func Permissions(t repo.NodeType, mode uint32) string {
	kind := map[repo.NodeType]byte{repo.TypeDir: 'd', repo.TypeSymlink: 'l', repo.TypeFIFO: 'p',
		repo.TypeChar: 'c', repo.TypeBlock: 'b', repo.TypeSocket: 's'}[t]
	if kind == 0 {
		kind = '-'
	}
	b := []byte{kind}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if mode&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	special := func(bit uint32, at int, set, setNoExec byte) {
		if mode&bit == 0 {
			return
		}
		if b[at] == '-' {
			b[at] = setNoExec
		} else {
			b[at] = set
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}
