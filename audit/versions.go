package audit

import (
	"context"
	"errors"
	"fmt"

	"coffer/objectstore"
)

// scan is the log's keys as a version listing shows them. coffer writes
// each key once, so a key's first version that is not a delete marker is
// coffer's; anything after it, and a marker before it, is not.
type scan struct {
	seqs     []uint64          // sequence keys with a first version, ascending
	first    map[uint64]string // sequence number -> version ID of its first version
	other    []string          // keys under Prefix that are not sequence keys
	tampered []string          // one line per later version or delete marker
}

// scanVersions lists every version under Prefix: one ListVersions, which
// costs what a List would.
func (l *Log) scanVersions(ctx context.Context) (scan, error) {
	s := scan{first: map[uint64]string{}}
	seen := map[string]bool{} // keys whose first version was met
	err := l.cfg.Store.ListVersions(ctx, Prefix, func(v objectstore.Version) error {
		what := "a later version"
		if v.DeleteMarker {
			what = "a delete marker"
		}
		if seen[v.Key] || v.DeleteMarker {
			s.tampered = append(s.tampered, fmt.Sprintf("%s has %s (version %s, %s): not coffer's; coffer reads the first version",
				v.Key, what, v.VersionID, v.Modified.UTC().Format("2006-01-02T15:04:05Z")))
			return nil
		}
		seen[v.Key] = true
		if n, ok := parseKey(v.Key); ok && n > 0 {
			s.seqs = append(s.seqs, n)
			s.first[n] = v.VersionID
		} else {
			s.other = append(s.other, v.Key)
		}
		return nil
	})
	if err != nil {
		return scan{}, fmt.Errorf("list audit records: %w", err)
	}
	return s, nil
}

// readVersion reads the record at seq by its version ID.
func (l *Log) readVersion(ctx context.Context, seq uint64, versionID string) ([]byte, error) {
	data, err := l.cfg.Store.GetVersion(ctx, Key(seq), versionID)
	if err != nil {
		return nil, fmt.Errorf("read audit record %s: %w", Key(seq), err)
	}
	return data, nil
}

// errNoVersion: a key has delete markers only.
var errNoVersion = errors.New("no version but delete markers")

// firstID is the version ID of key's first version that is not a
// delete marker; empty if it has none.
func (l *Log) firstID(ctx context.Context, key string) (string, error) {
	id := ""
	err := l.cfg.Store.ListVersions(ctx, key, func(v objectstore.Version) error {
		if v.Key == key && !v.DeleteMarker && id == "" {
			id = v.VersionID
		}
		return nil
	})
	return id, err
}

// readFirst reads the first version of the record at seq, and its ID.
func (l *Log) readFirst(ctx context.Context, seq uint64) ([]byte, string, error) {
	key := Key(seq)
	id, err := l.firstID(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("list versions of audit record %s: %w", key, err)
	}
	if id == "" {
		return nil, "", fmt.Errorf("audit record %s: %w", key, errNoVersion)
	}
	data, err := l.readVersion(ctx, seq, id)
	return data, id, err
}

// firstIsOurs reports whether versionID, just put at key, is the key's
// first version. Sequence keys are predictable: an intruder can plant an
// object at the next key and hide it behind a delete marker, over which a
// conditional put succeeds, leaving coffer's record a later version that
// readers ignore. A listing that fails is taken as yes, with a warning:
// the record is stored, and verify would name such a trap.
func (l *Log) firstIsOurs(ctx context.Context, key, versionID string) bool {
	first, err := l.firstID(ctx, key)
	if err != nil {
		l.cfg.Logger.Warn("audit: could not check that a record is its key's first version", "key", key, "err", err)
		return true
	}
	return first == "" || first == versionID
}

// FirstVersions returns the first version (coffer's) of every key under
// audit/, in key order, for the retention extension: extend these, by
// version ID, never a later one an intruder put.
func (l *Log) FirstVersions(ctx context.Context) ([]objectstore.Version, error) {
	out, err := objectstore.FirstVersions(ctx, l.cfg.Store, Prefix)
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return out, nil
}
