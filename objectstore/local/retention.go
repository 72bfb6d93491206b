package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"coffer/objectstore"
)

// sidecar is the JSON stored in <key>@ret.
type sidecar struct {
	Mode        objectstore.Mode `json:"mode"`
	RetainUntil time.Time        `json:"retain_until"`
}

// later returns whichever retention ends later; a's mode wins if set,
// since a mode, once given, is never changed.
func later(a, b objectstore.Retention) objectstore.Retention {
	out := a
	if b.Until.After(a.Until) {
		out.Until = b.Until
	}
	if out.Mode == "" {
		out.Mode = b.Mode
	}
	return out
}

// readSidecar returns the retention in key's sidecar; none if it is absent.
func (s *Store) readSidecar(key string) (objectstore.Retention, error) {
	raw, err := os.ReadFile(s.retPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return objectstore.Retention{}, nil
	}
	if err != nil {
		return objectstore.Retention{}, translateError("read retention", key, err)
	}
	var sc sidecar
	if err := json.Unmarshal(raw, &sc); err != nil {
		return objectstore.Retention{}, fmt.Errorf("local retention %s: %w: %v", key, objectstore.ErrCorrupt, err)
	}
	return objectstore.Retention{Mode: sc.Mode, Until: sc.RetainUntil}, nil
}

// exclusive runs fn holding both the in-process mutex and an flock on
// the lock file, so retention checks and changes are not interleaved,
// even by another process on the same directory.
func (s *Store) exclusive(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		lock, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return translateError("lock", lockFile, err)
		}
		s.lock = lock
	}
	if err := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("local: lock: %w", err)
	}
	defer syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
	return fn()
}

// Delete removes the object unless its effective retention is still in
// the future by the store's clock (ErrRetained). The sidecar goes first,
// so a crash midway leaves the object with its original retention, which
// has already passed.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	if _, err := s.head(key); err != nil {
		return err // nothing to delete: no need to take (or create) the lock
	}
	return s.exclusive(func() error {
		info, err := s.head(key)
		if err != nil {
			return err
		}
		if info.RetainUntil.After(s.clock()) {
			return fmt.Errorf("local delete %s: retained until %s: %w",
				key, info.RetainUntil.UTC().Format(time.RFC3339), objectstore.ErrRetained)
		}
		if err := os.Remove(s.retPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return translateError("delete", key, err)
		}
		if err := os.Remove(s.objPath(key)); err != nil {
			return translateError("delete", key, err)
		}
		return translateError("delete", key, syncDir(filepath.Dir(s.objPath(key))))
	})
}

// ExtendRetention records a later retain-until date in the sidecar
// (temp file, fsync, rename, fsync directory). A date that is not later
// than the effective one is a no-op; an existing mode is kept.
//
// Only the check and the rename hold the lock that Delete takes, so that
// a Delete sees either the old date or the new one, never acts between
// the check and the change; the temp file's write and fsync, and the
// directory's fsync, run outside it, in parallel with other keys'
// extensions (a snapshot extends every new pack at once).
func (s *Store) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return err
	}
	if ret.IsZero() {
		return nil
	}
	for {
		info, err := s.head(key)
		if err != nil {
			return err
		}
		if !ret.Until.After(info.RetainUntil) {
			return nil
		}
		tmp, err := s.writeSidecar(key, info, ret)
		if err != nil {
			return err
		}
		changed := false
		err = s.exclusive(func() error {
			now, err := s.head(key)
			if err != nil {
				return err
			}
			if now.Mode != info.Mode || !now.RetainUntil.Equal(info.RetainUntil) {
				changed = true // extended meanwhile: judge again
				return nil
			}
			return translateError("extend retention", key, os.Rename(tmp, s.retPath(key)))
		})
		if changed || err != nil {
			os.Remove(tmp)
		}
		if err != nil {
			return err
		}
		if !changed {
			return translateError("extend retention", key, syncDir(filepath.Dir(s.retPath(key))))
		}
	}
}

// writeSidecar writes, durably, a temp file holding key's sidecar for
// ret over the object's info, and returns its path.
func (s *Store) writeSidecar(key string, info objectstore.Info, ret objectstore.Retention) (string, error) {
	sc := sidecar{Mode: info.Mode, RetainUntil: ret.Until.UTC()}
	if sc.Mode == "" {
		sc.Mode = ret.Mode
	}
	if sc.Mode == "" {
		sc.Mode = objectstore.Compliance
	}
	raw, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	tmp, err := s.writeTemp(func(f *os.File) error {
		_, err := f.Write(raw)
		return err
	})
	return tmp, translateError("extend retention", key, err)
}
