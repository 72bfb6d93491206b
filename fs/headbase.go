package fs

import (
	"context"
	"errors"
	"fmt"

	"coffer/repo"
)

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
