package repo

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"coffer/objectstore"
)

// ErrNoPath: a path inside a snapshot names nothing there. It is an
// objectstore.ErrNotFound too (errors.Is), so callers that report "not
// found" report it.
var ErrNoPath error = noPath{}

type noPath struct{}

func (noPath) Error() string        { return "no such file or directory in the snapshot" }
func (noPath) Is(target error) bool { return target == objectstore.ErrNotFound }

// FindAmong resolves ref among snaps (a subset, oldest first, of the
// snapshots named by names index for index: NameSnapshots of the whole
// list, so a snapshot keeps its one name whatever the subset). It takes
// what FindSnapshot takes; "latest" is the newest of snaps.
func FindAmong(snaps []*Snapshot, names []string, ref string) (*Snapshot, error) {
	return findIn(snaps, names, ref)
}

// SplitSnapshotPath resolves "SNAPSHOT[:PATH]" among snaps (named by
// names, as for FindAmong): the snapshot reference, and the cleaned
// absolute path after it ("/" when there is none). Snapshot times may
// hold colons themselves (2026-01-02T15:04:05Z), so the reference is the
// shortest prefix before a colon that names a snapshot, or the whole
// argument: "2026-01-02T15:04:05Z:/etc" and "latest:etc" both work.
func SplitSnapshotPath(snaps []*Snapshot, names []string, arg string) (*Snapshot, string, error) {
	for i := 0; i < len(arg); i++ {
		if arg[i] != ':' {
			continue
		}
		if s, err := findIn(snaps, names, arg[:i]); err == nil {
			return s, path.Join("/", arg[i+1:]), nil
		} else if errors.Is(err, ErrAmbiguous) {
			return nil, "", err
		}
	}
	s, err := findIn(snaps, names, arg)
	if err != nil {
		return nil, "", err
	}
	return s, "/", nil
}

// FindSnapshotPath is SplitSnapshotPath among the snapshots
// SnapshotsAsOf(asOf) lists.
func (r *Repository) FindSnapshotPath(ctx context.Context, arg string, asOf time.Time) (*Snapshot, string, error) {
	all, err := r.SnapshotsAsOf(ctx, asOf)
	if err != nil {
		return nil, "", err
	}
	return SplitSnapshotPath(all, NameSnapshots(all), arg)
}

// LookupPath returns the node at p (absolute, cleaned) in snapshot s; the
// root's node is s.Root with the name "/". Its error for a name that is
// not there wraps ErrNoPath.
func (r *Repository) LookupPath(ctx context.Context, s *Snapshot, p string) (Node, error) {
	n := s.Root
	n.Type, n.Name, n.Subtree = TypeDir, "/", s.Tree
	p = path.Clean("/" + p)
	if p == "/" {
		return n, nil
	}
	at := ""
	for _, name := range strings.Split(p[1:], "/") {
		if n.Type != TypeDir {
			return Node{}, fmt.Errorf("%s is not a directory: %w", path.Join("/", at), ErrNoPath)
		}
		t, err := r.LoadTree(ctx, n.Subtree)
		if err != nil {
			return Node{}, fmt.Errorf("%s: %w", path.Join("/", at), err)
		}
		at = path.Join(at, name)
		i, ok := slices.BinarySearchFunc(t.Nodes, name, func(n Node, name string) int { return strings.Compare(n.Name, name) })
		if !ok {
			return Node{}, fmt.Errorf("/%s: %w", at, ErrNoPath)
		}
		n = t.Nodes[i]
	}
	return n, nil
}
