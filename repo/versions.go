package repo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"coffer/objectstore"
)

// firstVersions is the repository's view of its store: every key reads
// as its first version, which is coffer's (coffer never overwrites, so
// any later version or delete marker was put there by someone else).
// Later versions and delete markers are ignored and recorded as Tamper.
//
//   - List lists the prefix's versions (one version listing, which
//     replaces the plain listing: the same number of requests) and yields
//     each key that has a version, with its first version's size, upload
//     time and version ID. A key holding only delete markers is not
//     listed.
//   - Get reads a key's first version. Its ID comes from a listing; for
//     a key not listed yet, the key's versions are listed first (one more
//     request).
//   - GetRange reads packs at their current version, which is the first
//     one unless someone tampered with it: one request, as before. A
//     pack that fails to read or open is resolved with resolve, and from
//     then on read at its first version.
//
// Every other method is the store's own. A Put's version ID is not taken
// for the key's first: where someone placed a delete marker on the key
// before (predictable keys: the audit log's), an earlier version of
// theirs may be the first, and only a listing tells. First version IDs of metadata
// keys are kept; those of packs only when the pack was tampered with, so
// the memory they take follows the metadata and the tampering, not the
// data.
type firstVersions struct {
	objectstore.Store
	log *slog.Logger

	mu    sync.Mutex
	first map[string]string // guarded by mu; key → its first version's ID
	tamp  tamperLog
}

func newFirstVersions(st objectstore.Store, log *slog.Logger) *firstVersions {
	return &firstVersions{Store: st, log: log, first: make(map[string]string)}
}

// isPack reports whether key names a pack, read at its current version.
func isPack(key string) bool { return strings.HasPrefix(key, dataPrefix) }

func (f *firstVersions) remember(key, vid string) {
	f.mu.Lock()
	f.first[key] = vid
	f.mu.Unlock()
}

func (f *firstVersions) known(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vid, ok := f.first[key]
	return vid, ok
}

// List calls fn with the first version of every key under prefix that
// has one, in lexical key order, and records what else it meets.
func (f *firstVersions) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	return f.listFirst(ctx, prefix, func(v objectstore.Version) error {
		return fn(objectstore.Info{Key: v.Key, Size: v.Size, Modified: v.Modified, VersionID: v.VersionID})
	})
}

// listFirst lists the versions under prefix, one listing, and calls fn
// with each key's first version that is not a delete marker. Delete
// markers anywhere and versions after the first are recorded as Tamper.
func (f *firstVersions) listFirst(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	var vs []objectstore.Version // the versions of one key, oldest first
	flush := func() error {
		if len(vs) == 0 {
			return nil
		}
		first, ok := f.sort(vs)
		vs = vs[:0]
		if !ok {
			return nil
		}
		return fn(first)
	}
	err := f.Store.ListVersions(ctx, prefix, func(v objectstore.Version) error {
		if len(vs) > 0 && vs[0].Key != v.Key {
			if err := flush(); err != nil {
				return err
			}
		}
		vs = append(vs, v)
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// sort takes one key's versions, oldest first: it finds the first that
// is not a delete marker, remembers it, and records every other one as
// tampering. ok is false if the key has only delete markers.
func (f *firstVersions) sort(vs []objectstore.Version) (first objectstore.Version, ok bool) {
	for _, v := range vs {
		switch {
		case v.DeleteMarker:
			f.report(v, TamperDeleteMarker)
		case ok:
			f.report(v, TamperLaterVersion)
		default:
			first, ok = v, true
		}
	}
	if ok && (len(vs) > 1 || !isPack(first.Key)) {
		f.remember(first.Key, first.VersionID)
	}
	return first, ok
}

// resolve lists key's versions and remembers its first. tampered
// reports whether the key has anything besides its first version, so a
// failed read of its current version is worth retrying at the first.
// A key with no version is ErrNotFound.
func (f *firstVersions) resolve(ctx context.Context, key string) (vid string, tampered bool, err error) {
	var all []objectstore.Version
	err = f.Store.ListVersions(ctx, key, func(v objectstore.Version) error {
		if v.Key == key { // the prefix also matches longer keys
			all = append(all, v)
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("list the versions of %s: %w", key, err)
	}
	first, ok := f.sort(all)
	if !ok {
		return "", len(all) > 0, fmt.Errorf("%s: %w", key, objectstore.ErrNotFound)
	}
	return first.VersionID, len(all) > 1, nil
}

// Get reads key's first version.
func (f *firstVersions) Get(ctx context.Context, key string) ([]byte, error) {
	vid, ok := f.known(key)
	if !ok {
		var err error
		if vid, _, err = f.resolve(ctx, key); err != nil {
			return nil, err
		}
	}
	return f.Store.GetVersion(ctx, key, vid)
}

// GetRange reads a range of key's first version if it is known (every
// metadata key met, and packs found tampered with), else of its current
// version.
func (f *firstVersions) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	if vid, ok := f.known(key); ok {
		return f.Store.GetVersionRange(ctx, key, vid, off, length)
	}
	return f.Store.GetRange(ctx, key, off, length)
}

// firstOfPack is called when a read of pack key failed (missing, failed
// authentication, wrong block): it lists the pack's versions, once per
// pack, and reports whether the pack has a first version other than its
// current one, so the read is worth trying again (GetRange then reads
// the first version). A read that failed at the first version already
// is tried once more: the caller retries only once.
func (f *firstVersions) firstOfPack(ctx context.Context, key string) (retry bool, err error) {
	if _, ok := f.known(key); ok {
		return true, nil // tampered, resolved by another read meanwhile
	}
	_, tampered, err := f.resolve(ctx, key)
	if err != nil {
		return false, err
	}
	return tampered, nil
}

// retryAtFirst reports whether a block read from pack's current version
// that failed with err is worth reading again: err says the bytes were
// missing or bad (not an outage), and the pack has versions or delete
// markers coffer did not write, so its first version, which the next
// read gets, holds other bytes. The listing costs one request, once per
// pack.
func (r *Repository) retryAtFirst(ctx context.Context, pack PackID, err error) bool {
	if !isDamage(err) {
		return false
	}
	retry, lerr := r.fv.firstOfPack(ctx, pack.key())
	if lerr != nil {
		r.log.Warn("the versions of a pack that failed to read could not be listed", "pack", pack.String(), "err", lerr)
		return false
	}
	return retry
}
