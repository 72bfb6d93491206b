package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"coffer/objectstore"
)

// LegalHolds is what a hold or release did to the S3 legal holds on the
// snapshot objects. coffer itself honours the hold objects; a legal hold
// is the store's own guard on top, so that even a prune by other means
// (or an administrator's mistake) cannot delete the snapshot object while
// it is held. Failures here do not undo the hold object.
type LegalHolds struct {
	// Supported: the store has legal holds and the repository object
	// lock (a legal hold needs both).
	Supported bool
	Done      []string         // snapshot IDs whose object's legal hold was placed (hold) or cleared (release; only those set)
	Failed    map[string]error // snapshot ID → why its legal hold was not placed or cleared
}

// Hold writes a hold on snapshots (IDs): until released, they cannot be
// forgotten or pruned. Where the store supports legal holds, each
// snapshot object's first version (coffer's) then carries one. The
// error is about the hold object only; legal holds that failed are in
// LegalHolds.Failed.
func (r *Repository) Hold(ctx context.Context, a Author, snapshots []string, note string) (*Hold, LegalHolds, error) {
	h, err := r.HoldSnapshots(ctx, a, snapshots, note)
	if err != nil {
		return nil, LegalHolds{}, err
	}
	return h, r.setLegalHolds(ctx, snapshots, true), nil
}

// Released is one release written: Key ends Hold for Snapshots.
type Released struct {
	Key, Hold string
	Snapshots []string
}

// Release writes a release of every hold on snapshots (IDs), one per
// hold that covers any of them. It then clears the legal hold of each
// snapshot no hold covers any more (another may have been placed
// meanwhile). ErrNotHeld if none of them is held; it still clears a
// legal hold left on one of them by a release whose clearing failed, so
// releasing again repairs that.
func (r *Repository) Release(ctx context.Context, a Author, snapshots []string) ([]Released, LegalHolds, error) {
	d, err := r.Deletions(ctx)
	if err != nil {
		return nil, LegalHolds{}, err
	}
	var out []Released
	var ended []string // snapshots some hold was released for
	for _, h := range d.Holds {
		var ids []string
		for _, id := range snapshots {
			if _, released := h.Released[id]; !released && slices.Contains(h.Snapshots, id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		key, err := r.ReleaseHold(ctx, a, h, ids)
		if err != nil {
			return out, LegalHolds{}, err
		}
		out = append(out, Released{Key: key, Hold: h.Key, Snapshots: ids})
		for _, id := range ids {
			if !slices.Contains(ended, id) {
				ended = append(ended, id)
			}
		}
	}
	if len(out) == 0 {
		free := slices.DeleteFunc(slices.Clone(snapshots), d.Held)
		return nil, r.setLegalHolds(ctx, free, false), ErrNotHeld
	}
	after, err := r.Deletions(ctx)
	if err != nil {
		return out, LegalHolds{}, err
	}
	free := slices.DeleteFunc(ended, after.Held)
	return out, r.setLegalHolds(ctx, free, false), nil
}

// ErrNotHeld: a release named no snapshot a hold covers.
var ErrNotHeld = errors.New("no hold covers these snapshots")

// setLegalHolds places (on) or clears the legal hold on each snapshot
// object's first version, where the store and the repository allow it.
func (r *Repository) setLegalHolds(ctx context.Context, snapshots []string, on bool) LegalHolds {
	lh, ok := r.fv.Store.(objectstore.LegalHolder)
	out := LegalHolds{Supported: ok && r.params.Retention.Period() > 0, Failed: map[string]error{}}
	if !out.Supported {
		return out
	}
	for _, id := range snapshots {
		key := snapshotPrefix + id
		vid, ok := r.fv.known(key)
		if !ok {
			var err error
			if vid, _, err = r.fv.resolve(ctx, key); err != nil {
				out.Failed[id] = err
				continue
			}
		}
		if !on {
			// Clear only what is set, so Done names real changes.
			if held, err := lh.LegalHold(ctx, key, vid); err != nil {
				out.Failed[id] = fmt.Errorf("legal hold on %s: %w", key, err)
				continue
			} else if !held {
				continue
			}
		}
		if err := lh.SetLegalHold(ctx, key, vid, on); err != nil {
			out.Failed[id] = fmt.Errorf("legal hold on %s: %w", key, err)
			continue
		}
		out.Done = append(out.Done, id)
	}
	return out
}
