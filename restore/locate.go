package restore

import (
	"context"
	"fmt"
	"path"
	"strings"

	"coffer/objectstore"
	"coffer/repo"
)

// SplitRef splits SNAPSHOT[:PATH] into the snapshot reference and the
// path in it ("/" when none is given). Snapshot names never hold a colon
// followed by a slash-rooted path, but a time as `coffer snapshots`
// prints it does hold colons, so the path starts at the first ":/" (or
// at the last colon when the path is relative).
func SplitRef(ref string) (snapshot, p string) {
	if i := strings.Index(ref, ":/"); i >= 0 {
		return ref[:i], path.Clean(ref[i+1:])
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !looksLikeTime(ref) {
		return ref[:i], path.Clean("/" + ref[i+1:])
	}
	return ref, "/"
}

// looksLikeTime reports whether ref is a time such as "2026-01-02
// 15:04:05", whose colons are not a path separator.
func looksLikeTime(ref string) bool {
	i := strings.LastIndex(ref, ":")
	return i >= 2 && i+3 == len(ref) && isDigits(ref[i+1:]) && isDigits(ref[i-2:i])
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Locate finds the node at path p (slash-separated, from the snapshot's
// root) in snapshot s. The root is a directory node with the snapshot's
// root attributes. A path that is not there is objectstore.ErrNotFound.
func Locate(ctx context.Context, r *repo.Repository, s *repo.Snapshot, p string) (repo.Node, error) {
	n := s.Root
	n.Name, n.Type, n.Subtree = "/", repo.TypeDir, s.Tree
	p = path.Clean("/" + p)
	if p == "/" {
		return n, nil
	}
	walked := ""
	for _, name := range strings.Split(p[1:], "/") {
		if n.Type != repo.TypeDir {
			return repo.Node{}, fmt.Errorf("%s in snapshot %s is not a directory: %w", walked, s.ID, objectstore.ErrNotFound)
		}
		t, err := r.LoadTree(ctx, n.Subtree)
		if err != nil {
			return repo.Node{}, fmt.Errorf("directory %s of snapshot %s: %w", walked+"/", s.ID, err)
		}
		walked += "/" + name
		found := false
		for _, c := range t.Nodes {
			if c.Name == name {
				n, found = c, true
				break
			}
		}
		if !found {
			return repo.Node{}, fmt.Errorf("no %s in snapshot %s (paths start at the snapshot's root, as under .snapshots/NAME/): %w",
				walked, s.ID, objectstore.ErrNotFound)
		}
	}
	return n, nil
}
