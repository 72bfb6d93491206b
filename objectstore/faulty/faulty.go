package faulty

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"coffer/objectstore"
)

// ErrInjected is the error a rule returns when it names none. It wraps
// objectstore.ErrUnavailable: an injected fault looks like an outage.
var ErrInjected = fmt.Errorf("injected fault: %w", objectstore.ErrUnavailable)

// Op names a Store method.
type Op string

// The operations a rule can match.
const (
	Put             Op = "Put"
	Get             Op = "Get"
	GetRange        Op = "GetRange"
	Head            Op = "Head"
	List            Op = "List"
	Delete          Op = "Delete"
	ExtendRetention Op = "ExtendRetention"

	ListVersions           Op = "ListVersions"
	GetVersion             Op = "GetVersion"
	GetVersionRange        Op = "GetVersionRange"
	ExtendRetentionVersion Op = "ExtendRetentionVersion"
	DeleteVersion          Op = "DeleteVersion"
	SetLegalHold           Op = "SetLegalHold"
	LegalHold              Op = "LegalHold"
	CanDeleteVersions      Op = "CanDeleteVersions" // its key is ""
	Now                    Op = "Now"               // its key is ""
)

// Fault describes which calls a rule hits and what happens to them.
type Fault struct {
	// Ops are the operations it matches; none means every operation.
	Ops []Op
	// Prefix restricts it to keys (for List, prefixes) starting with it.
	Prefix string
	// Skip lets that many matching calls through before the first hit;
	// Skip: n-1, Times: 1 fails exactly the nth matching call.
	Skip int
	// Times is how many matching calls it hits; zero means all of them.
	Times int
	// Err is what a hit call returns; nil means ErrInjected. Ignored for
	// a Block rule without Err set.
	Err error
	// Applied runs the inner call and then returns Err anyway: the store
	// did the work, the answer was lost on the way back.
	Applied bool
	// Block holds a hit call until Rule.Release (or its context ends),
	// then lets it run normally, or fail with Err if one is set.
	Block bool
}

// Rule is one fault added to a Store.
type Rule struct {
	f       Fault
	release chan struct{}
	once    sync.Once

	mu      sync.Mutex // guards seen and hits
	seen    int        // matching calls so far
	hits    int        // calls it hit
	waiting int        // calls blocked now
}

// Release lets every call the rule blocks, now or later, go on.
func (r *Rule) Release() { r.once.Do(func() { close(r.release) }) }

// Hits is how many calls the rule has hit so far.
func (r *Rule) Hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// Waiting is how many calls the rule is blocking now.
func (r *Rule) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting
}

// take reports whether the rule hits a call of op on key, counting the
// calls it matches.
func (r *Rule) take(op Op, key string) bool {
	if len(r.f.Ops) > 0 && !contains(r.f.Ops, op) {
		return false
	}
	if !strings.HasPrefix(key, r.f.Prefix) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	if r.seen <= r.f.Skip || (r.f.Times > 0 && r.seen > r.f.Skip+r.f.Times) {
		return false
	}
	r.hits++
	return true
}

func contains(ops []Op, op Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// Store is an objectstore.Store that passes calls to an inner store,
// except those its rules hit. It is safe for concurrent use.
type Store struct {
	inner objectstore.Store

	mu    sync.Mutex // guards the fields below
	rules []*Rule
	off   bool       // every rule is ignored while set
	calls map[Op]int // calls seen per operation
}

var _ objectstore.Store = (*Store)(nil)

// New wraps inner with no rules yet.
func New(inner objectstore.Store) *Store {
	return &Store{inner: inner, calls: make(map[Op]int)}
}

// Add starts applying f to calls from now on and returns its rule.
func (s *Store) Add(f Fault) *Rule {
	r := &Rule{f: f, release: make(chan struct{})}
	s.mu.Lock()
	s.rules = append(s.rules, r)
	s.mu.Unlock()
	return r
}

// Remove stops applying r and releases the calls it blocks.
func (s *Store) Remove(r *Rule) {
	s.mu.Lock()
	for i, x := range s.rules {
		if x == r {
			s.rules = append(s.rules[:i:i], s.rules[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	r.Release()
}

// Clear removes every rule.
func (s *Store) Clear() {
	s.mu.Lock()
	rules := s.rules
	s.rules = nil
	s.mu.Unlock()
	for _, r := range rules {
		r.Release()
	}
}

// SetEnabled switches every rule on (the default) or off; rules stay
// added, and a call made while they are off counts for none of them.
func (s *Store) SetEnabled(on bool) {
	s.mu.Lock()
	s.off = !on
	s.mu.Unlock()
}

// Calls is how many calls of op the store has seen, hit or not.
func (s *Store) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// hit returns the first rule that hits a call of op on key, or nil.
func (s *Store) hit(op Op, key string) *Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if s.off {
		return nil
	}
	for _, r := range s.rules {
		if r.take(op, key) {
			return r
		}
	}
	return nil
}

// do runs call under whatever rule hits it.
func (s *Store) do(ctx context.Context, op Op, key string, call func() error) error {
	r := s.hit(op, key)
	if r == nil {
		return call()
	}
	if r.f.Block {
		r.mu.Lock()
		r.waiting++
		r.mu.Unlock()
		select {
		case <-r.release:
		case <-ctx.Done():
		}
		r.mu.Lock()
		r.waiting--
		r.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.f.Err == nil {
			return call()
		}
	}
	if r.f.Applied {
		if err := call(); err != nil {
			return err
		}
	}
	if r.f.Err != nil {
		return fmt.Errorf("faulty %s %s: %w", op, key, r.f.Err)
	}
	return fmt.Errorf("faulty %s %s: %w", op, key, ErrInjected)
}

// Put stores data unless a rule hits the call. An Applied fault loses
// the version ID with the answer.
func (s *Store) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	var id string
	err := s.do(ctx, Put, key, func() (err error) {
		id, err = s.inner.Put(ctx, key, data, ret)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Get reads the object unless a rule hits the call.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.do(ctx, Get, key, func() (err error) {
		data, err = s.inner.Get(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// GetRange reads part of the object unless a rule hits the call.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	var data []byte
	err := s.do(ctx, GetRange, key, func() (err error) {
		data, err = s.inner.GetRange(ctx, key, off, length)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Head describes the object unless a rule hits the call.
func (s *Store) Head(ctx context.Context, key string) (objectstore.Info, error) {
	var info objectstore.Info
	err := s.do(ctx, Head, key, func() (err error) {
		info, err = s.inner.Head(ctx, key)
		return err
	})
	if err != nil {
		return objectstore.Info{}, err
	}
	return info, nil
}

// List lists the prefix unless a rule hits the call.
func (s *Store) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	return s.do(ctx, List, prefix, func() error { return s.inner.List(ctx, prefix, fn) })
}

// Delete removes the object unless a rule hits the call.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, Delete, key, func() error { return s.inner.Delete(ctx, key) })
}

// ExtendRetention extends the object's retention unless a rule hits the
// call.
func (s *Store) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	return s.do(ctx, ExtendRetention, key, func() error { return s.inner.ExtendRetention(ctx, key, ret) })
}

// IsInjected reports whether err came from a rule that named no error.
func IsInjected(err error) bool { return errors.Is(err, ErrInjected) }
