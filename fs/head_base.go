package fs

import (
	"context"
	"errors"
	"fmt"

	"coffer/objectstore"
	"coffer/repo"
)

// Which snapshot a head starts from, and whether a commit lands on the
// repository's latest. A repository is one source's history; if a second
// machine (or a second daemon) writes to it, the histories fork, and
// coffer says so instead of silently preferring one side.

// pickBase chooses the head's base among snaps (oldest first): the one
// named by parent, or else the latest snapshot of this host, or else the
// latest of any host. It logs when the choice is not the repository's
// latest snapshot.
func (h *Head) pickBase(snaps []*repo.Snapshot, parent string) (*repo.Snapshot, error) {
	if len(snaps) == 0 && parent == "" {
		return nil, nil
	}
	var base *repo.Snapshot
	if parent != "" {
		for _, s := range snaps {
			if s.ID == parent {
				base = s
			}
		}
		if base == nil {
			return nil, fmt.Errorf("parent snapshot %s: %w", parent, objectstore.ErrNotFound)
		}
	} else {
		for _, s := range snaps {
			if s.Host == h.host {
				base = s
			}
		}
		if base == nil {
			base = snaps[len(snaps)-1]
			h.log.Warn("no snapshot of this host yet: the head starts from the latest snapshot, of another host",
				"host", h.host, "snapshot", base.ID, "snapshot_host", base.Host)
			return base, nil
		}
	}
	if latest := snaps[len(snaps)-1]; latest != base {
		h.log.Warn("the head does not start from the repository's latest snapshot",
			"base", base.ID, "base_host", base.Host, "base_time", base.Time,
			"latest", latest.ID, "latest_host", latest.Host, "latest_time", latest.Time)
	}
	return base, nil
}

// reportFork logs when the snapshot about to be committed on top of base
// is not going on top of the repository's latest snapshot: another daemon
// or machine committed since this head started.
func (h *Head) reportFork(snaps []*repo.Snapshot, base *repo.Snapshot) {
	if len(snaps) == 0 {
		return
	}
	latest := snaps[len(snaps)-1]
	if base != nil && latest.ID == base.ID {
		return
	}
	parent := ""
	if base != nil {
		parent = base.ID
	}
	h.log.Warn("committing on top of a snapshot that is not the repository's latest: another daemon or machine writes to this repository, and the histories fork",
		"parent", parent, "latest", latest.ID, "latest_host", latest.Host, "latest_time", latest.Time)
}

// ErrDamagedBase: the snapshot the head would start from has a damaged
// link table or root tree, so the head cannot start from it.
var ErrDamagedBase = errors.New("the snapshot the head starts from is damaged")

// loadBase reads what the head needs of its base snapshot at once: the
// link table and the root tree (so a damaged root is found now, not
// served as an empty directory later). Damage is ErrDamagedBase, with
// what is damaged and the way on: mounting with --parent and an older
// snapshot. A store that fails is returned as it is.
func loadBase(ctx context.Context, r *repo.Repository, base *repo.Snapshot, snaps []*repo.Snapshot) (repo.LinkTable, error) {
	links, err := r.LoadLinks(ctx, base.Links)
	what := "link table"
	if err == nil {
		what = "root tree"
		_, err = r.LoadTree(ctx, base.Tree)
	}
	if err == nil {
		return links, nil
	}
	if !isDamage(err) {
		return nil, fmt.Errorf("snapshot %s: %w", base.ID, err)
	}
	name := base.ID
	for i, s := range snaps {
		if s == base {
			name = repo.NameSnapshots(snaps)[i]
		}
	}
	// err is not wrapped: a missing pack inside it must not make this
	// look like a missing repository.
	return nil, fmt.Errorf("%w: snapshot %s (%s): its %s is unreadable (%v); "+
		"to back up on, start the head from an older snapshot: coffer mount --parent SNAPSHOT "+
		"(coffer snapshots lists them; coffer mount --snapshot %s serves what is intact of this one)",
		ErrDamagedBase, name, base.ID, what, err, name)
}
