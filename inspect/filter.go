package inspect

import (
	"slices"
	"strings"

	"coffer/repo"
)

// Filter picks snapshots by tag, host and age, as restic's filters do.
// The zero Filter picks every snapshot.
type Filter struct {
	// Tags: a snapshot matches if it carries every tag of at least one
	// entry. Each entry is one --tag flag, "a,b" meaning a and b.
	Tags []string
	// Hosts: a snapshot matches if it was made on one of them.
	Hosts []string
	// Latest, when above zero, keeps only that many of the newest
	// snapshots that match the rest.
	Latest int
}

// Apply returns the snapshots of all (oldest first) that f picks, oldest
// first, with their names: NameSnapshots of all, so a snapshot has the
// same name whatever is filtered out.
func (f Filter) Apply(all []*repo.Snapshot) ([]*repo.Snapshot, []string) {
	names := repo.NameSnapshots(all)
	var snaps []*repo.Snapshot
	var picked []string
	for i, s := range all {
		if f.matches(s) {
			snaps = append(snaps, s)
			picked = append(picked, names[i])
		}
	}
	if f.Latest > 0 && len(snaps) > f.Latest {
		cut := len(snaps) - f.Latest
		snaps, picked = snaps[cut:], picked[cut:]
	}
	return snaps, picked
}

// IsZero reports whether f picks every snapshot.
func (f Filter) IsZero() bool { return len(f.Tags) == 0 && len(f.Hosts) == 0 && f.Latest <= 0 }

func (f Filter) matches(s *repo.Snapshot) bool {
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, s.Host) {
		return false
	}
	if len(f.Tags) == 0 {
		return true
	}
	for _, entry := range f.Tags {
		all := true
		for _, tag := range strings.Split(entry, ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !slices.Contains(s.Tags, tag) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
