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

// object is one stored version. data is never modified after Put.
type object struct {
	data      []byte
	modified  time.Time
	version   string
	retention objectstore.Retention
}

// Store is a concurrency-safe, in-memory objectstore.Store.
type Store struct {
	clock func() time.Time // read-only after New

	mu       sync.Mutex         // guards the fields below
	objects  map[string]*object // current version of each key
	versions int64              // number of Puts so far, for version IDs
}

var _ objectstore.Store = (*Store)(nil)

// New returns an empty store whose retention is judged against clock;
// nil means time.Now.
func New(clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	return &Store{clock: clock, objects: map[string]*object{}}
}

// Put stores a copy of data under key unless key exists (ErrExists).
func (s *Store) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		return fmt.Errorf("memory put %s: %w", key, objectstore.ErrExists)
	}
	if !ret.IsZero() && ret.Mode == "" {
		ret.Mode = objectstore.Compliance
	}
	s.versions++
	s.objects[key] = &object{
		data:      bytes.Clone(data),
		modified:  s.clock(),
		version:   strconv.FormatInt(s.versions, 10),
		retention: ret,
	}
	return nil
}

// lookup returns key's object or ErrNotFound; s.mu must be held.
func (s *Store) lookup(op, key string) (*object, error) {
	obj, ok := s.objects[key]
	if !ok {
		return nil, fmt.Errorf("memory %s %s: %w", op, key, objectstore.ErrNotFound)
	}
	return obj, nil
}

// Get returns a copy of the object's bytes.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.lookup("get", key)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(obj.data), nil
}

// GetRange returns a copy of exactly length bytes from off.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.lookup("get range", key)
	if err != nil {
		return nil, err
	}
	if off < 0 || length < 0 || off+length > int64(len(obj.data)) {
		return nil, fmt.Errorf("memory get %s [%d,+%d) of %d bytes: %w",
			key, off, length, len(obj.data), objectstore.ErrInvalidRange)
	}
	return bytes.Clone(obj.data[off : off+length]), nil
}

// info describes obj under key.
func (obj *object) info(key string) objectstore.Info {
	return objectstore.Info{
		Key:         key,
		Size:        int64(len(obj.data)),
		Modified:    obj.modified,
		RetainUntil: obj.retention.Until,
		Mode:        obj.retention.Mode,
		VersionID:   obj.version,
	}
}

// Head describes the object.
func (s *Store) Head(ctx context.Context, key string) (objectstore.Info, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return objectstore.Info{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.lookup("head", key)
	if err != nil {
		return objectstore.Info{}, err
	}
	return obj.info(key), nil
}

// List calls fn for each key under prefix in lexical order. It works on a
// snapshot taken at the start, so fn may call the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	s.mu.Lock()
	var infos []objectstore.Info
	for key, obj := range s.objects {
		if strings.HasPrefix(key, prefix) {
			infos = append(infos, obj.info(key))
		}
	}
	s.mu.Unlock()
	return objectstore.Visit(ctx, infos, fn)
}

// Delete removes the object unless its retention has not yet passed.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.lookup("delete", key)
	if err != nil {
		return err
	}
	if obj.retention.Until.After(s.clock()) {
		return fmt.Errorf("memory delete %s: retained until %v: %w", key, obj.retention.Until, objectstore.ErrRetained)
	}
	delete(s.objects, key)
	return nil
}

// ExtendRetention moves the retain-until date later, never earlier; an
// existing mode is kept.
func (s *Store) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.lookup("extend retention", key)
	if err != nil {
		return err
	}
	if ret.IsZero() || !ret.Until.After(obj.retention.Until) {
		return nil
	}
	mode := obj.retention.Mode
	if mode == "" {
		mode = ret.Mode
	}
	if mode == "" {
		mode = objectstore.Compliance
	}
	obj.retention = objectstore.Retention{Mode: mode, Until: ret.Until}
	return nil
}
