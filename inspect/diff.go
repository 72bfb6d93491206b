package inspect

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"coffer/cipher"
	"coffer/repo"
)

// ChangeKind says how a path differs between two snapshots.
type ChangeKind string

// Kinds of change.
const (
	Added    ChangeKind = "added"    // only in the newer snapshot
	Removed  ChangeKind = "removed"  // only in the older one
	Changed  ChangeKind = "changed"  // contents differ: a file's data, a symlink's target, a device's numbers
	Metadata ChangeKind = "metadata" // only mode, owner, mtime or xattrs differ
)

// Change is one path that differs. Old is nil for Added, New for
// Removed. What names what differs for Changed and Metadata: "content",
// "target", "device", "mode", "owner", "mtime", "xattrs".
type Change struct {
	Path     string
	Kind     ChangeKind
	Old, New *repo.Node
	What     []string
}

// Counts totals the nodes of one kind of change.
type Counts struct {
	Files  int    `json:"files"`
	Dirs   int    `json:"dirs"`
	Others int    `json:"others"` // symlinks and special files
	Bytes  uint64 `json:"bytes"`  // the files' sizes
}

func (c *Counts) add(n *repo.Node) {
	switch n.Type {
	case repo.TypeFile:
		c.Files++
		c.Bytes += n.Size
	case repo.TypeDir:
		c.Dirs++
	default:
		c.Others++
	}
}

// DiffStats totals a diff.
type DiffStats struct {
	Added    Counts `json:"added"`
	Removed  Counts `json:"removed"`
	Changed  int    `json:"changed"`
	Metadata int    `json:"metadata"`
}

// TreeLoader reads trees; *repo.Repository is one.
type TreeLoader interface {
	LoadTree(ctx context.Context, id cipher.ID) (*repo.Tree, error)
}

// Diff calls fn for every path that differs from snapshot a to snapshot
// b, in path order, and totals them. A directory added or removed is
// reported with everything beneath it. A node whose type changed is
// reported removed and then added. Subtrees with the same tree ID are
// equal and are skipped without being read, so the cost follows what
// changed. Atime and ctime are not compared (reads and every restore
// change them), nor hard-link identities (numbered afresh in each
// snapshot).
//
// onDamage, if not nil, hears of a directory whose tree is damaged or
// missing on either side (damagedOrMissing): returning nil goes on without
// it. Without it, and always for a store that fails, the diff ends with
// the error.
func Diff(ctx context.Context, trees TreeLoader, a, b *repo.Snapshot, onDamage func(p string, err error) error, fn func(Change) error) (DiffStats, error) {
	ra, rb := rootNode(a), rootNode(b)
	return DiffNodes(ctx, trees, "/", &ra, &rb, onDamage, fn)
}

// DiffNodes is Diff of what path p names in two snapshots (na and nb,
// from repo.LookupPath; nil where p names nothing): two directories are
// compared as Diff compares two roots, anything else as the one path it
// is.
func DiffNodes(ctx context.Context, trees TreeLoader, p string, na, nb *repo.Node, onDamage func(p string, err error) error, fn func(Change) error) (DiffStats, error) {
	d := differ{trees: trees, onDamage: onDamage, fn: fn}
	err := d.node(ctx, path.Clean("/"+p), na, nb)
	return d.stats, err
}

func rootNode(s *repo.Snapshot) repo.Node {
	n := s.Root
	n.Name, n.Type, n.Subtree = "/", repo.TypeDir, s.Tree
	return n
}

type differ struct {
	trees    TreeLoader
	onDamage func(p string, err error) error
	fn       func(Change) error
	stats    DiffStats
}

// load reads tree id of directory p in the side named.
func (d *differ) load(ctx context.Context, p, side string, id cipher.ID) (*repo.Tree, error) {
	t, err := d.trees.LoadTree(ctx, id)
	if err == nil {
		return t, nil
	}
	err = fmt.Errorf("%s in the %s snapshot: %w", p, side, err)
	if d.onDamage == nil || !damagedOrMissing(err) {
		return nil, err
	}
	return nil, d.onDamage(p, err)
}

func (d *differ) report(c Change) error {
	switch c.Kind {
	case Added:
		d.stats.Added.add(c.New)
	case Removed:
		d.stats.Removed.add(c.Old)
	case Changed:
		d.stats.Changed++
	case Metadata:
		d.stats.Metadata++
	}
	return d.fn(c)
}

// trees2 compares the trees ia and ib of directory dir.
func (d *differ) trees2(ctx context.Context, dir string, ia, ib cipher.ID) error {
	if ia == ib {
		return nil
	}
	ta, err := d.load(ctx, dir, "first", ia)
	if ta == nil {
		return err // nil: damage reported, the directory left out
	}
	tb, err := d.load(ctx, dir, "second", ib)
	if tb == nil {
		return err
	}
	i, j := 0, 0
	for i < len(ta.Nodes) || j < len(tb.Nodes) {
		var na, nb *repo.Node
		switch {
		case j == len(tb.Nodes) || i < len(ta.Nodes) && ta.Nodes[i].Name < tb.Nodes[j].Name:
			na = &ta.Nodes[i]
			i++
		case i == len(ta.Nodes) || tb.Nodes[j].Name < ta.Nodes[i].Name:
			nb = &tb.Nodes[j]
			j++
		default:
			na, nb = &ta.Nodes[i], &tb.Nodes[j]
			i++
			j++
		}
		name := na
		if name == nil {
			name = nb
		}
		if err := d.node(ctx, path.Join(dir, name.Name), na, nb); err != nil {
			return err
		}
	}
	return nil
}

// node compares what p names: na in the first snapshot, nb in the
// second; either may be nil.
func (d *differ) node(ctx context.Context, p string, na, nb *repo.Node) error {
	if na != nil && nb != nil && na.Type == nb.Type {
		if what := differences(na, nb); len(what) > 0 {
			kind := Metadata
			if slices.ContainsFunc(what, func(w string) bool { return w == "content" || w == "target" || w == "device" }) {
				kind = Changed
			}
			if err := d.report(Change{Path: p, Kind: kind, Old: na, New: nb, What: what}); err != nil {
				return err
			}
		}
		if na.Type == repo.TypeDir {
			return d.trees2(ctx, p, na.Subtree, nb.Subtree)
		}
		return nil
	}
	if na != nil {
		if err := d.whole(ctx, p, na, Removed); err != nil {
			return err
		}
	}
	if nb != nil {
		return d.whole(ctx, p, nb, Added)
	}
	return nil
}

// whole reports n at p, and everything beneath it, as added or removed.
func (d *differ) whole(ctx context.Context, p string, n *repo.Node, kind ChangeKind) error {
	c := Change{Path: p, Kind: kind}
	if kind == Added {
		c.New = n
	} else {
		c.Old = n
	}
	if err := d.report(c); err != nil {
		return err
	}
	if n.Type != repo.TypeDir {
		return nil
	}
	side := "second"
	if kind == Removed {
		side = "first"
	}
	t, err := d.load(ctx, p, side, n.Subtree)
	if t == nil {
		return err
	}
	for i := range t.Nodes {
		if err := d.whole(ctx, path.Join(p, t.Nodes[i].Name), &t.Nodes[i], kind); err != nil {
			return err
		}
	}
	return nil
}

// differences names what differs between two nodes of the same type.
func differences(a, b *repo.Node) []string {
	var what []string
	if a.Type == repo.TypeFile && (a.Size != b.Size || !slices.Equal(a.Blocks, b.Blocks)) {
		what = append(what, "content")
	}
	if a.Target != b.Target {
		what = append(what, "target")
	}
	if a.Rdev != b.Rdev {
		what = append(what, "device")
	}
	if a.Mode != b.Mode {
		what = append(what, "mode")
	}
	if a.UID != b.UID || a.GID != b.GID {
		what = append(what, "owner")
	}
	if a.Mtime != b.Mtime {
		what = append(what, "mtime")
	}
	if !slices.EqualFunc(a.Xattrs, b.Xattrs, func(x, y repo.Xattr) bool {
		return x.Name == y.Name && string(x.Value) == string(y.Value)
	}) {
		what = append(what, "xattrs")
	}
	return what
}

// ChangeJSON is one line of `coffer diff --json`.
type ChangeJSON struct {
	MessageType string    `json:"message_type"` // "change"
	Path        string    `json:"path"`
	Change      string    `json:"change"`         // added, removed, changed, metadata
	What        []string  `json:"what,omitempty"` // for changed and metadata
	Old         *NodeJSON `json:"old,omitempty"`  // absent when added
	New         *NodeJSON `json:"new,omitempty"`  // absent when removed
}

// JSON is c's line of `coffer diff --json`.
func (c Change) JSON() ChangeJSON {
	j := ChangeJSON{MessageType: "change", Path: c.Path, Change: string(c.Kind), What: c.What}
	if c.Old != nil {
		n := Entry{Path: c.Path, Node: *c.Old}.JSON()
		j.Old = &n
	}
	if c.New != nil {
		n := Entry{Path: c.Path, Node: *c.New}.JSON()
		j.New = &n
	}
	return j
}

// Line is c as `coffer diff` prints it: a marker (+ added, - removed,
// M changed, U metadata only, as restic prints them), the path, and what
// changed. Directories end in "/".
func (c Change) Line() string {
	n := c.New
	if n == nil {
		n = c.Old
	}
	p := c.Path
	if n.Type == repo.TypeDir && p != "/" {
		p += "/"
	}
	marker := map[ChangeKind]string{Added: "+", Removed: "-", Changed: "M", Metadata: "U"}[c.Kind]
	if len(c.What) > 0 {
		return fmt.Sprintf("%s    %s  (%s)", marker, p, strings.Join(c.What, ", "))
	}
	return fmt.Sprintf("%s    %s", marker, p)
}

// StatsJSON is the last line of `coffer diff --json`.
type StatsJSON struct {
	MessageType string `json:"message_type"` // "statistics"
	From        string `json:"from"`         // snapshot IDs
	To          string `json:"to"`
	DiffStats
}
