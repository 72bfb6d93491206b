package repo

import (
	"errors"
	"slices"
	"sync"

	"coffer/cipher"
	"coffer/objectstore"
)

// Damage is one object the repository could not use and skipped: a
// corrupt, truncated, swapped or planted index or snapshot object, an
// unreadable key slot or pack trailer, or a name that is not coffer's.
// Damage never stops the rest of the repository from working.
type Damage struct {
	Key    string // the object's key in the store
	Reason string // one line: what is wrong with it and what was done
}

// String renders the damage as one line for logs and warnings.
func (d Damage) String() string { return d.Key + ": " + d.Reason }

// onceLog collects items met, once per key, in the order met. The
// damage, tampering and bad-location reports are each one.
type onceLog[K comparable, T any] struct {
	mu    sync.Mutex
	seen  map[K]bool // guarded by mu
	items []T        // guarded by mu; in the order met
}

// note records item under k and reports whether k is new.
func (l *onceLog[K, T]) note(k K, item T) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[k] {
		return false
	}
	if l.seen == nil {
		l.seen = make(map[K]bool)
	}
	l.seen[k] = true
	l.items = append(l.items, item)
	return true
}

func (l *onceLog[K, T]) list() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

// damageLog collects the damage met since the repository was opened,
// once per object.
type damageLog = onceLog[string, Damage]

// Damage lists the objects skipped because they are damaged or not
// coffer's, since the repository was opened (each once). Commands show
// them as warnings; each was also logged when met.
func (r *Repository) Damage() []Damage { return r.damage.list() }

// skip records a damaged object and logs it the first time.
func (r *Repository) skip(key, reason string, err error) {
	d := Damage{Key: key, Reason: reason}
	if err != nil {
		d.Reason += ": " + err.Error()
	}
	if r.damage.note(key, d) {
		r.log.Warn("skipping a damaged or foreign object", "object", key, "reason", d.Reason)
	}
}

// isDamage reports whether err says an object itself is bad (its bytes
// fail a checksum or authentication, it does not parse, it is shorter
// than it claims, or it vanished after being listed), as opposed to a
// store that is away, refuses, or a caller that gave up. Damage is
// skipped; anything else is returned, so an outage is never mistaken for
// damage.
func isDamage(err error) bool {
	if errors.Is(err, objectstore.ErrUnavailable) || errors.Is(err, objectstore.ErrPermission) {
		return false
	}
	return errors.Is(err, objectstore.ErrCorrupt) || errors.Is(err, objectstore.ErrNotFound) ||
		errors.Is(err, objectstore.ErrInvalidRange) ||
		errors.Is(err, cipher.ErrAuth) || errors.Is(err, cipher.ErrFormat) ||
		errors.Is(err, ErrCorrupt)
}
