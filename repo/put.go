package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"coffer/objectstore"
)

// putOnce stores data under key, once. A key that already exists
// (objectstore.ErrExists, S3's 412) is success when the stored object is
// the one sent: an earlier attempt, or the store client's own retry of
// this one, was applied and its answer lost. coffer never writes the same
// key twice with different bytes (names are random, ciphertexts use fresh
// nonces), so equal bytes can only be coffer's own. Any other object
// under key stays an ErrExists error.
func (r *Repository) putOnce(ctx context.Context, key string, data []byte, ret objectstore.Retention) error {
	again, err := putVerified(ctx, r.store, key, data, ret)
	r.count.countPut(len(data), err)
	if err == nil && again {
		r.log.Info("object was already stored by an earlier attempt", "key", key)
	}
	return err
}

// putVerified is putOnce for callers without an open repository (init,
// key slots); again reports that the object was found already stored.
func putVerified(ctx context.Context, st objectstore.Store, key string, data []byte, ret objectstore.Retention) (again bool, err error) {
	_, err = st.Put(ctx, key, data, ret)
	if err == nil || !errors.Is(err, objectstore.ErrExists) {
		return false, err
	}
	stored, gerr := st.Get(ctx, key)
	if gerr != nil {
		return false, fmt.Errorf("%s exists and could not be read back to compare: %w", key, gerr)
	}
	if !bytes.Equal(stored, data) {
		return false, fmt.Errorf("%s holds another object: %w", key, err)
	}
	return true, nil
}

// Backoff between retries of a failing upload, unless Options say
// otherwise: it doubles from minBackoff up to Options.MaxBackoff.
const minBackoff = 100 * time.Millisecond

// nextBackoff doubles d up to the repository's cap.
func (r *Repository) nextBackoff(d time.Duration) time.Duration {
	return min(2*d, r.opts.MaxBackoff)
}

// sleep waits for d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// isNoSpace reports whether err says the store is full: the writer
// should hear so at once rather than be held back.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// putPatiently stores one metadata object, retrying failures with backoff
// for up to Options.RetryWait. name picks the key and seals the object
// for it; it is called again for a fresh name when another object holds
// the key. A full store or an interrupted caller ends the retries at once.
func (r *Repository) putPatiently(ctx context.Context, name func() (key string, data []byte, err error)) (string, error) {
	key, data, err := name()
	if err != nil {
		return "", err
	}
	ret := r.retention()
	deadline := time.Now().Add(r.opts.RetryWait)
	for wait := minBackoff; ; wait = r.nextBackoff(wait) {
		err = r.putOnce(ctx, key, data, ret)
		if err == nil {
			return key, nil
		}
		if ctx.Err() != nil || isNoSpace(err) || errors.Is(err, objectstore.ErrInvalidKey) ||
			time.Now().Add(wait).After(deadline) {
			return "", err
		}
		r.log.Warn("store write failed; retrying", "key", key, "err", err)
		r.count.putRetries.Add(1)
		if errors.Is(err, objectstore.ErrExists) {
			if key, data, err = name(); err != nil {
				return "", err
			}
		}
		if !sleep(ctx, wait) {
			return "", ctx.Err()
		}
	}
}
