package repo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/objectstore"
)

// What package prune needs from the repository: every index object with
// its entries, a compacted index written, revoked key slots with the date
// of their revocation, and objects removed with every version. Removal
// goes to the raw store, under the first-versions view: "every version,
// delete markers included" is exactly what that view hides.

// IndexObject is one index object as the store holds it, read and opened.
type IndexObject struct {
	Key      string
	Uploaded time.Time // the store's upload time of its first version
	Entries  []BlockLocation
}

// IndexObjects lists index/ and reads every index object, oldest upload
// first (the order reads try their locations). A damaged object is
// recorded (Damage) and left out: nothing it names can be trusted, so
// prune neither compacts nor removes it.
func (r *Repository) IndexObjects(ctx context.Context) ([]*IndexObject, error) {
	var listed []objectstore.Info
	err := r.store.List(ctx, indexPrefix, func(i objectstore.Info) error {
		if _, ok := parseHexName(indexPrefix, i.Key, 16); ok && strings.Count(i.Key, "/") == 1 {
			listed = append(listed, i)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list index: %w", err)
	}
	slices.SortStableFunc(listed, func(a, b objectstore.Info) int { return a.Modified.Compare(b.Modified) })
	out := make([]*IndexObject, len(listed))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for n, info := range listed {
		g.Go(func() error {
			entries, err := r.readIndex(gctx, info.Key)
			if isDamage(err) {
				r.skip(info.Key, "index object unreadable, left alone by prune", err)
				return nil
			}
			if err != nil {
				return err
			}
			o := &IndexObject{Key: info.Key, Uploaded: info.Modified, Entries: make([]BlockLocation, len(entries))}
			for i, e := range entries {
				o.Entries[i] = BlockLocation{Block: e.ID, Type: e.Loc.Type, Pack: e.Loc.Pack, Off: e.Loc.Off, Len: e.Loc.Len, Index: info.Key}
			}
			out[n] = o
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(o *IndexObject) bool { return o == nil }), nil
}

// RefreshIndex loads the index objects written since the repository was
// opened (by running daemons, say), so reads find the blocks they name.
func (r *Repository) RefreshIndex(ctx context.Context) error { return r.loadNewIndexes(ctx) }

// WriteIndex stores entries as one new index object, locked with the
// repository's retention, and returns its key once it is durable. Prune
// writes the compacted index with it before removing the ones it replaces.
func (r *Repository) WriteIndex(ctx context.Context, entries []BlockLocation) (string, error) {
	es := make([]indexEntry, len(entries))
	for i, e := range entries {
		es[i] = indexEntry{ID: e.Block, Loc: location{Pack: e.Pack, Off: e.Off, Len: e.Len, Type: e.Type}}
	}
	return r.putIndex(ctx, es)
}

// putIndex writes entries as a new index object under a random name.
func (r *Repository) putIndex(ctx context.Context, entries []indexEntry) (string, error) {
	plain := encodeEntries(entries)
	key, err := r.putPatiently(ctx, func() (string, []byte, error) {
		var name [16]byte
		if _, err := rand.Read(name[:]); err != nil {
			return "", nil, err
		}
		key := indexPrefix + hex.EncodeToString(name[:])
		return key, r.keys.Metadata().Seal(nil, plain, objectAD(r.id, "index", key)), nil
	})
	if err != nil {
		return "", fmt.Errorf("write index: %w", err)
	}
	return key, nil
}

// RevokedSlot is a key slot an honoured revocation revokes.
type RevokedSlot struct {
	Key     string    // keys/<id>
	Revoked time.Time // the store's upload time of the earliest revocation naming it
}

// RevokedSlots lists the key slots that honoured revocations revoke, with
// when the store received the revocation: prune removes a slot once that
// is longer ago than the deletion delay.
func (r *Repository) RevokedSlots(ctx context.Context) ([]RevokedSlot, error) {
	slots, err := listSlots(ctx, r.store)
	if err != nil {
		return nil, err
	}
	listed, err := listRevocations(ctx, r.store)
	if err != nil {
		return nil, err
	}
	revs, _, err := readRevocations(ctx, r.store, r.keys, r.id, listed)
	if err != nil {
		return nil, err
	}
	j := judge(slots, revs)
	var out []RevokedSlot
	for _, s := range slots {
		if !j.revoked[s.id] {
			continue
		}
		var when time.Time
		for _, rv := range revs {
			if rv.slot == s.sum && (when.IsZero() || rv.modified.Before(when)) {
				when = rv.modified
			}
		}
		out = append(out, RevokedSlot{Key: keysPrefix + s.id, Revoked: when})
	}
	slices.SortFunc(out, func(a, b RevokedSlot) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// Removal is what removing one object did.
type Removal struct {
	Key     string
	Deleted int // versions and delete markers deleted
	// Locked is set when a version is still under retention (or a legal
	// hold): it stays, with what else could not go, for a later prune.
	// Until is its retain-until date where the store says it.
	Locked bool
	Until  time.Time
}

// Gone reports whether nothing of the object is left.
func (m Removal) Gone() bool { return !m.Locked }

// RemoveObject deletes every version and delete marker of key, newest
// first, so the version coffer wrote goes last and the key reads as
// coffer's object until nothing is left. A version still locked is left
// (Removal.Locked) and the older ones with it; one already gone (a run
// killed half-way) is skipped. Only prune calls it, with credentials that
// may delete versions.
func (r *Repository) RemoveObject(ctx context.Context, key string) (Removal, error) {
	raw := r.fv.Store
	m := Removal{Key: key}
	var vs []objectstore.Version
	err := raw.ListVersions(ctx, key, func(v objectstore.Version) error {
		if v.Key == key { // the prefix also matches longer keys
			vs = append(vs, v)
		}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("list the versions of %s: %w", key, err)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		err := raw.DeleteVersion(ctx, key, vs[i].VersionID)
		switch {
		case err == nil:
			m.Deleted++
		case errors.Is(err, objectstore.ErrNotFound):
		case errors.Is(err, objectstore.ErrRetained):
			m.Locked = true
			if info, herr := raw.Head(ctx, key); herr == nil {
				m.Until = info.RetainUntil
			}
			return m, nil
		default:
			return m, fmt.Errorf("delete %s version %s: %w", key, vs[i].VersionID, err)
		}
	}
	r.fv.mu.Lock()
	delete(r.fv.first, key)
	r.fv.mu.Unlock()
	return m, nil
}

// RetainedUntil is the retain-until date of key's current version, zero
// if it has none or is absent: whether removing it now would be refused.
func (r *Repository) RetainedUntil(ctx context.Context, key string) (time.Time, error) {
	info, err := r.fv.Store.Head(ctx, key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return info.RetainUntil, nil
}

// RemoveSnapshot removes snapshot id's object and its retention ledger
// record, every version of each. The snapshot is forgotten by this
// process too.
func (r *Repository) RemoveSnapshot(ctx context.Context, id string) (Removal, error) {
	if _, ok := parseHexName("", id, 16); !ok {
		return Removal{}, fmt.Errorf("snapshot %q: %w", id, objectstore.ErrNotFound)
	}
	m, err := r.RemoveObject(ctx, snapshotPrefix+id)
	if err != nil || m.Locked {
		return m, err
	}
	r.snapMu.Lock()
	delete(r.snaps, id)
	r.snapMu.Unlock()
	// The ledger record only spares retention a walk; it goes after the
	// snapshot, so a kill between the two leaves a stray record, which
	// retention ignores for a snapshot that is not there.
	led, err := r.RemoveObject(ctx, retainPrefix+id)
	m.Deleted += led.Deleted
	return m, err
}

// SnapshotKey is the store key of snapshot id.
func SnapshotKey(id string) string { return snapshotPrefix + id }
