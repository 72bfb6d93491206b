package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/cipher"
	"coffer/objectstore"
)

// Snapshot is one committed, read-only state of the tree.
type Snapshot struct {
	ID     string    `json:"-"` // the object's name under snapshots/
	Time   time.Time `json:"time"`
	Host   string    `json:"host"`
	Tags   []string  `json:"tags,omitempty"`
	Tree   cipher.ID `json:"tree"`           // root tree block ID, hex
	Root   Node      `json:"root"`           // the root directory's own attributes
	Links  cipher.ID `json:"links,omitzero"` // link table block ID, hex; zero if no hard links
	Files  uint64    `json:"files"`
	Size   uint64    `json:"size"`
	Parent string    `json:"parent,omitempty"`
	// Uploaded is the store's upload time of the snapshot object's first
	// version (the store's clock, not the writer's): what deletion
	// policies judge a snapshot's age by, since Time is the writer's word.
	// Snapshots fills it in; a snapshot only loaded by ID has it zero.
	Uploaded time.Time `json:"-"`
	// Started is the store's time when the commit that wrote the
	// snapshot began, before its flush, as its committer measured it
	// (zero if not). The audit log's commit record carries it: prune
	// spares the packs a running daemon uploaded since.
	Started time.Time `json:"-"`
}

// SaveSnapshot flushes every pending block and index entry, then writes s.
// When it returns nil, the snapshot and everything it references are
// durable.
func (r *Repository) SaveSnapshot(ctx context.Context, s *Snapshot) error {
	// Lock everything live snapshots and s need for at least R more
	// before s is published (retain.go); s's new trees are walked
	// before Flush, while they are still in memory.
	walk, err := r.walkForRetention(ctx, s)
	if err != nil {
		return err
	}
	if err := r.Flush(ctx); err != nil {
		return err
	}
	// The prune plans published until now, right before the snapshot
	// is put: what they would remove that s or this process relies on
	// is moved first (guard.go), so retention then keeps the new
	// copies. Without them s cannot show its blocks are safe.
	if _, err := r.RefreshPlans(ctx); err != nil {
		r.log.Warn("prune plans not read", "err", err)
		return fmt.Errorf("%w: %w", errPlansUnread, err)
	}
	rec, err := r.keepRetention(ctx, walk)
	if err != nil {
		return err
	}
	data, err := marshalSnapshot(s)
	if err != nil {
		return err
	}
	key, err := r.putPatiently(ctx, func() (string, []byte, error) {
		var name [16]byte
		if _, err := rand.Read(name[:]); err != nil {
			return "", nil, err
		}
		key := snapshotPrefix + hex.EncodeToString(name[:])
		return key, r.keys.Metadata().Seal(nil, data, objectAD(r.id, "snapshot", key)), nil
	})
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	s.ID = strings.TrimPrefix(key, snapshotPrefix)
	s.Uploaded = r.storeTime()
	r.snapMu.Lock()
	r.snaps[s.ID] = s
	r.snapMu.Unlock()
	if rec != nil {
		rec.Snapshot = s.ID
		r.putLedger(ctx, rec)
		r.retain.mu.Lock()
		r.retain.covered[s.ID] = true
		r.retain.mu.Unlock()
	}
	return nil
}

// Snapshots lists every snapshot, oldest first. Decrypted snapshots are
// kept, so listing again costs one listing request. Each snapshot object
// is read at its first version, which is coffer's: later versions and
// delete markers are ignored and reported (Tampering). A snapshot object
// that is damaged (corrupt, truncated, swapped, planted), and a name that
// is not coffer's, is logged, recorded in Damage and left out; only a
// store that fails makes the listing fail.
func (r *Repository) Snapshots(ctx context.Context) ([]*Snapshot, error) {
	return r.SnapshotsAsOf(ctx, time.Time{})
}

// SnapshotsAsOf is Snapshots as the repository was at asOf: snapshot
// objects first uploaded after it (by the store's clock) are left out,
// so snapshots forged later can be set aside. A zero asOf leaves out
// nothing.
func (r *Repository) SnapshotsAsOf(ctx context.Context, asOf time.Time) ([]*Snapshot, error) {
	var ids []string
	uploaded := map[string]time.Time{}
	err := r.store.List(ctx, snapshotPrefix, func(i objectstore.Info) error {
		id := strings.TrimPrefix(i.Key, snapshotPrefix)
		if _, ok := parseHexName("", id, 16); !ok || strings.Contains(id, "/") {
			r.skip(i.Key, "not a coffer snapshot name, ignored", nil)
			return nil
		}
		if !asOf.IsZero() && i.Modified.After(asOf) {
			return nil
		}
		ids = append(ids, id)
		uploaded[id] = i.Modified
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out := make([]*Snapshot, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			s, err := r.LoadSnapshot(gctx, id)
			if isDamage(err) {
				r.skip(snapshotPrefix+id, "snapshot object unreadable, left out", err)
				return nil
			}
			out[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(s *Snapshot) bool { return s == nil })
	r.snapMu.Lock()
	for _, s := range out {
		if s.Uploaded.IsZero() {
			s.Uploaded = uploaded[s.ID]
		}
	}
	r.snapMu.Unlock()
	slices.SortStableFunc(out, func(a, b *Snapshot) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// LoadSnapshot reads one snapshot by ID.
func (r *Repository) LoadSnapshot(ctx context.Context, id string) (*Snapshot, error) {
	r.snapMu.Lock()
	s, ok := r.snaps[id]
	r.snapMu.Unlock()
	if ok {
		return s, nil
	}
	if _, ok := parseHexName("", id, 16); !ok {
		return nil, fmt.Errorf("snapshot %q: %w", id, objectstore.ErrNotFound)
	}
	key := snapshotPrefix + id
	sealed, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "snapshot", key))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w: %v", id, ErrCorrupt, err)
	}
	s, err = parseSnapshot(plain)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	s.ID = id
	r.snapMu.Lock()
	r.snaps[id] = s
	r.snapMu.Unlock()
	return s, nil
}

// FindSnapshot resolves a reference to one snapshot: "latest", a name
// from NameSnapshots (the .snapshots directory names), the time as
// `coffer snapshots` prints it, a full ID or a unique ID prefix. A time
// several snapshots share is ErrAmbiguous, naming the names to use.
func (r *Repository) FindSnapshot(ctx context.Context, ref string) (*Snapshot, error) {
	return r.FindSnapshotAsOf(ctx, ref, time.Time{})
}

// FindSnapshotAsOf is FindSnapshot among the snapshots SnapshotsAsOf
// lists: "latest" is the latest at asOf, and a snapshot uploaded after
// asOf is not found.
func (r *Repository) FindSnapshotAsOf(ctx context.Context, ref string, asOf time.Time) (*Snapshot, error) {
	all, err := r.SnapshotsAsOf(ctx, asOf)
	if err != nil {
		return nil, err
	}
	return findIn(all, NameSnapshots(all), ref)
}

// parseSnapshot decodes and checks a snapshot's plaintext.
func parseSnapshot(data []byte) (*Snapshot, error) {
	s := &Snapshot{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	// The zero ID is a tree ID like any other here (a first snapshot's
	// encoding has one), so what must be there is the field itself.
	var present struct {
		Tree *cipher.ID `json:"tree"`
	}
	if err := json.Unmarshal(data, &present); err != nil || present.Tree == nil {
		return nil, fmt.Errorf("%w: snapshot has no tree ID", ErrCorrupt)
	}
	return s, nil
}

func marshalSnapshot(s *Snapshot) ([]byte, error) { return json.Marshal(s) }
