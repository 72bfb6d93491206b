package memory

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"coffer/objectstore"
)

// version is one stored version of a key, or a delete marker. data is
// never modified after it is stored.
type version struct {
	id        string
	data      []byte
	modified  time.Time
	retention objectstore.Retention
	marker    bool
	held      bool // a legal hold is on (SetLegalHold)
}

// Store is a concurrency-safe, in-memory, versioned objectstore.Store.
type Store struct {
	clock func() time.Time // read-only after New

	mu   sync.Mutex            // guards the fields below
	keys map[string][]*version // each key's versions, oldest first; never empty
	seq  int64                 // versions and markers made so far, for IDs
}

var (
	_ objectstore.Store        = (*Store)(nil)
	_ objectstore.LegalHolder  = (*Store)(nil)
	_ objectstore.DeleteProber = (*Store)(nil)
)

// New returns an empty store whose retention and Now follow clock; nil
// means time.Now.
func New(clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	return &Store{clock: clock, keys: map[string][]*version{}}
}

// Now reads the store's clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	return s.clock(), nil
}

// add appends a new version (or marker) to key and returns it; s.mu must
// be held.
func (s *Store) add(key string, v *version) *version {
	s.seq++
	v.id = strconv.FormatInt(s.seq, 10)
	v.modified = s.clock()
	s.keys[key] = append(s.keys[key], v)
	return v
}

// Put stores a copy of data as key's new version unless key is present
// (ErrExists); a key whose current version is a delete marker is absent,
// as with S3's If-None-Match.
func (s *Store) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.current("put", key); err == nil {
		return "", fmt.Errorf("memory put %s: %w", key, objectstore.ErrExists)
	}
	if !ret.IsZero() && ret.Mode == "" {
		ret.Mode = objectstore.Compliance
	}
	v := s.add(key, &version{data: bytes.Clone(data), retention: ret})
	return v.id, nil
}

// current returns key's current version, or ErrNotFound if it has none
// or it is a delete marker; s.mu must be held.
func (s *Store) current(op, key string) (*version, error) {
	vs := s.keys[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return nil, fmt.Errorf("memory %s %s: %w", op, key, objectstore.ErrNotFound)
	}
	return vs[len(vs)-1], nil
}

// byID returns key's version versionID, or ErrNotFound if there is no
// such version or it is a delete marker; s.mu must be held.
func (s *Store) byID(op, key, versionID string) (*version, error) {
	for _, v := range s.keys[key] {
		if v.id == versionID && !v.marker {
			return v, nil
		}
	}
	return nil, fmt.Errorf("memory %s %s version %q: %w", op, key, versionID, objectstore.ErrNotFound)
}

// first returns key's oldest version that is not a delete marker, or
// ErrNotFound; s.mu must be held.
func (s *Store) first(op, key string) (*version, error) {
	for _, v := range s.keys[key] {
		if !v.marker {
			return v, nil
		}
	}
	return nil, fmt.Errorf("memory %s %s: %w", op, key, objectstore.ErrNotFound)
}

// read returns a copy of the version find picks.
func (s *Store) read(ctx context.Context, key string, find func() (*version, error)) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := find()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(v.data), nil
}

// readRange returns a copy of exactly length bytes from off of the
// version find picks.
func (s *Store) readRange(ctx context.Context, key string, off, length int64, find func() (*version, error)) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := find()
	if err != nil {
		return nil, err
	}
	if off < 0 || length < 0 || off+length > int64(len(v.data)) {
		return nil, fmt.Errorf("memory get %s [%d,+%d) of %d bytes: %w",
			key, off, length, len(v.data), objectstore.ErrInvalidRange)
	}
	return bytes.Clone(v.data[off : off+length]), nil
}

// Get returns a copy of the current version's bytes.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return s.read(ctx, key, func() (*version, error) { return s.current("get", key) })
}

// GetRange returns a copy of exactly length bytes from off of the current
// version.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	return s.readRange(ctx, key, off, length, func() (*version, error) { return s.current("get range", key) })
}

// GetVersion returns a copy of one version's bytes.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) ([]byte, error) {
	return s.read(ctx, key, func() (*version, error) { return s.byID("get", key, versionID) })
}

// GetVersionRange returns a copy of exactly length bytes from off of one
// version.
func (s *Store) GetVersionRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	return s.readRange(ctx, key, off, length, func() (*version, error) { return s.byID("get range", key, versionID) })
}

// info describes v under key.
func (v *version) info(key string) objectstore.Info {
	return objectstore.Info{
		Key:         key,
		Size:        int64(len(v.data)),
		Modified:    v.modified,
		RetainUntil: v.retention.Until,
		Mode:        v.retention.Mode,
		VersionID:   v.id,
	}
}

// Head describes the current version.
func (s *Store) Head(ctx context.Context, key string) (objectstore.Info, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return objectstore.Info{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.current("head", key)
	if err != nil {
		return objectstore.Info{}, err
	}
	return v.info(key), nil
}

// List calls fn for each present key under prefix in lexical order. It
// works on a snapshot taken at the start, so fn may call the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	s.mu.Lock()
	var infos []objectstore.Info
	for key := range s.keys {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if v, err := s.current("list", key); err == nil {
			infos = append(infos, v.info(key))
		}
	}
	s.mu.Unlock()
	return objectstore.Visit(ctx, infos, fn)
}

// ListVersions calls fn for every version and delete marker under prefix,
// keys in lexical order, each key's oldest first. It works on a snapshot
// taken at the start, so fn may call the store.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	s.mu.Lock()
	var out []objectstore.Version
	for key, vs := range s.keys {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		for _, v := range vs {
			out = append(out, objectstore.Version{Key: key, VersionID: v.id, Modified: v.modified,
				Size: int64(len(v.data)), DeleteMarker: v.marker})
		}
	}
	s.mu.Unlock()
	return objectstore.VisitVersions(ctx, out, fn)
}
