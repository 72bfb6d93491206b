package s3

import (
	"context"
	"errors"
	"fmt"
	"time"

	"coffer/objectstore"
)

// bodyError marks a response whose body broke off after the headers came:
// the SDK retries requests that fail, but reading the body happens after
// it has returned, so the backend tries such reads again itself.
type bodyError struct{ err error }

func (e bodyError) Error() string { return e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

// cutBody describes a body read that failed (a connection reset or closed
// mid-transfer): a transient failure, ErrUnavailable.
func cutBody(op, key string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("s3 %s %s: %w", op, key, err)
	}
	return bodyError{fmt.Errorf("s3 %s %s: body cut off: %w: %w", op, key, objectstore.ErrUnavailable, err)}
}

// readRetrying runs read, again when its body broke off, at most twice
// cfg.MaxAttempts times with the SDK's backoff cap: each attempt already
// had the SDK's retries for its request, but a body can break off
// whatever the SDK did. Other errors return at once.
func (s *Store) readRetrying(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		data, err := read()
		var cut bodyError
		if err == nil || !errors.As(err, &cut) || attempt >= 2*s.cfg.MaxAttempts {
			return data, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		wait = min(2*wait, maxBackoff)
	}
}
