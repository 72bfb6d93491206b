package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/repo"
)

// toErrno turns an error from the layers below into the errno a process
// sees. Unknown errors are EIO and a log line, never silence.
func toErrno(log *slog.Logger, op string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, objectstore.ErrUnavailable):
		// Checked first: a network error carries an errno of its own
		// (ECONNREFUSED) that means nothing to the caller.
		log.Error("store unavailable", "op", op, "err", err)
		return syscall.EIO
	case isDamage(err):
		// Checked before errnos too: a pack missing from a local store
		// carries the file system's ENOENT, which would tell the caller
		// the file does not exist.
		log.Error("data is missing or damaged", "op", op, "err", err)
		return syscall.EIO
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, context.Canceled):
		// The kernel interrupted the request (a signal reached the
		// caller); the caller sees EINTR and may retry.
		return syscall.EINTR
	case errors.Is(err, objectstore.ErrPermission):
		log.Error("store refused", "op", op, "err", err)
		return syscall.EACCES
	}
	log.Error("I/O error", "op", op, "err", err)
	return syscall.EIO
}

// isDamage reports whether err says stored data is missing or fails
// verification: a block no index knows, an object gone from the store, a
// checksum or authentication failure, bytes that do not parse.
func isDamage(err error) bool {
	return errors.Is(err, repo.ErrMissingBlock) || errors.Is(err, repo.ErrCorrupt) ||
		errors.Is(err, cipher.ErrAuth) || errors.Is(err, cipher.ErrFormat) ||
		errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, objectstore.ErrCorrupt) ||
		errors.Is(err, objectstore.ErrInvalidRange)
}
