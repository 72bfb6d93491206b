package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"coffer/objectstore"
)

// needed is what one step found live snapshots need.
type needed struct {
	keys       []string            // every needed object's key
	newIndexes map[string][]string // index objects first read in this step
}

// firstVersions lists the versions under prefix and calls fn with each
// key's first version that is not a delete marker (the one coffer wrote:
// a marker placed before it, as on a predictable audit key, is not
// coffer's). It learns each key's version ID.
func (r *Repository) firstVersions(ctx context.Context, prefix string, stats *RetentionStats, fn func(objectstore.Version)) error {
	st := &r.retain
	last := ""
	stats.Requests++ // at least one; a page holds up to 1000 versions
	err := r.store.ListVersions(ctx, prefix, func(v objectstore.Version) error {
		if v.DeleteMarker || v.Key == last {
			return nil
		}
		last = v.Key
		if prefix == configKey && v.Key != configKey {
			return nil
		}
		st.version[v.Key] = v.VersionID
		fn(v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep retention: list %s: %w", prefix, err)
	}
	return nil
}

// neededObjects lists what every live snapshot needs: it walks the
// snapshots no walk has covered yet, reads the index objects not read
// yet, and learns the version IDs of packs it has not met.
func (r *Repository) neededObjects(ctx context.Context, stats *RetentionStats) (needed, error) {
	st := &r.retain
	var need needed
	var snaps, indexes []string
	for _, p := range alwaysNeeded {
		err := r.firstVersions(ctx, p, stats, func(v objectstore.Version) {
			if (p == snapshotPrefix || p == retainPrefix) && st.excluded[strings.TrimPrefix(v.Key, p)] {
				return // only its own snapshot needs it
			}
			need.keys = append(need.keys, v.Key)
			if p == snapshotPrefix {
				snaps = append(snaps, strings.TrimPrefix(v.Key, snapshotPrefix))
			}
		})
		if err != nil {
			return need, err
		}
	}
	keys, err := r.keyObjects(ctx, stats)
	if err != nil {
		return need, err
	}
	need.keys = append(need.keys, keys...)
	for _, id := range snaps {
		if st.covered[id] || st.excluded[id] {
			continue
		}
		s, err := r.LoadSnapshot(ctx, id)
		if isDamage(err) { // not coffer's snapshot: nothing beneath to keep
			continue
		}
		if err != nil {
			return need, fmt.Errorf("keep retention: %w", err)
		}
		w, err := r.walkSnapshot(ctx, s, stats)
		if err != nil {
			return need, err
		}
		rec := r.cover(w)
		if _, ok := st.version[retainPrefix+id]; !ok { // walked again after a change: it has one
			r.putLedger(ctx, rec)
			stats.Requests++
		}
	}
	err = r.firstVersions(ctx, indexPrefix, stats, func(v objectstore.Version) {
		indexes = append(indexes, v.Key)
	})
	if err != nil {
		return need, err
	}
	for _, k := range indexes {
		packs, ok := st.indexPacks[k]
		if !ok {
			var err error
			if packs, err = r.indexedPacks(ctx, k, st.version[k]); err != nil {
				return need, err
			}
			stats.Requests++
			st.indexPacks[k] = packs
			if need.newIndexes == nil {
				need.newIndexes = map[string][]string{}
			}
			hex := make([]string, len(packs))
			for i, p := range packs {
				hex[i] = p.String()
			}
			need.newIndexes[k] = hex
		}
		if slices.ContainsFunc(packs, func(p PackID) bool { _, ok := st.packs[p]; return ok }) {
			need.keys = append(need.keys, k)
		}
	}
	packKeys := make([]string, 0, len(st.packs))
	for p := range st.packs {
		packKeys = append(packKeys, p.key())
	}
	slices.Sort(packKeys)
	if err := r.packVersions(ctx, packKeys, stats); err != nil {
		return need, err
	}
	for _, k := range packKeys {
		if _, ok := st.version[k]; ok {
			need.keys = append(need.keys, k)
		}
	}
	return need, nil
}

// keyObjects returns the key slots no honoured revocation revokes and
// every revocation (KeyObjects), judged again only when the listing of
// keys/ and revocations/ changed since the last step.
func (r *Repository) keyObjects(ctx context.Context, stats *RetentionStats) ([]string, error) {
	st := &r.retain
	var sig strings.Builder
	for _, p := range []string{keysPrefix, revocationsPrefix} {
		err := r.firstVersions(ctx, p, stats, func(v objectstore.Version) {
			sig.WriteString(v.Key + "@" + v.VersionID + "\n")
		})
		if err != nil {
			return nil, err
		}
	}
	if st.keyNeeded == nil || sig.String() != st.keySig {
		slots, revs, err := r.KeyObjects(ctx)
		stats.Requests += 2 + len(slots) + len(revs) // listings and reads, about
		if err != nil {
			return nil, fmt.Errorf("keep retention: key slots: %w", err)
		}
		st.keyNeeded = append(slots, revs...)
		st.keySig = sig.String()
	}
	var out []string
	for _, k := range st.keyNeeded {
		if _, ok := st.version[k]; ok {
			out = append(out, k)
		}
	}
	return out, nil
}

// indexedPacks reads one index object's first version and returns the
// packs it names. A damaged index names nothing coffer keeps.
func (r *Repository) indexedPacks(ctx context.Context, key, version string) ([]PackID, error) {
	sealed, err := r.store.GetVersion(ctx, key, version)
	if err != nil && !isDamage(err) {
		return nil, fmt.Errorf("keep retention: read %s: %w", key, err)
	}
	var entries []indexEntry
	if err == nil {
		entries, err = r.openIndex(key, sealed)
	}
	if err != nil {
		r.log.Warn("keep retention: index object unreadable; it is not kept", "key", key, "err", err)
		return []PackID{}, nil
	}
	var packs []PackID
	for _, e := range entries {
		if len(packs) == 0 || packs[len(packs)-1] != e.Loc.Pack {
			packs = append(packs, e.Loc.Pack)
		}
	}
	slices.SortFunc(packs, func(a, b PackID) int { return strings.Compare(string(a[:]), string(b[:])) })
	return slices.Compact(packs), nil
}

// packVersions learns the first version ID of each of keys (sorted pack
// keys) not met yet: by listing each such key, or all of data/ when that
// is fewer requests (a fresh process meets every pack at once; a listing
// page holds 1000 versions).
func (r *Repository) packVersions(ctx context.Context, keys []string, stats *RetentionStats) error {
	st := &r.retain
	var unknown []string
	for _, k := range keys {
		if _, ok := st.version[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > len(keys)/1000+1 {
		unknown = []string{dataPrefix}
	}
	for _, p := range unknown {
		if err := r.firstVersions(ctx, p, stats, func(objectstore.Version) {}); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if _, ok := st.version[k]; !ok {
			r.skip(k, "needed by a snapshot, but the pack is not in the store", nil)
		}
	}
	return nil
}
