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
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, context.Canceled):
		// The kernel interrupted the request (a signal reached the
		// caller); the caller sees EINTR and may retry.
		return syscall.EINTR
	case errors.Is(err, cipher.ErrAuth), errors.Is(err, repo.ErrCorrupt),
		errors.Is(err, repo.ErrMissingBlock), errors.Is(err, objectstore.ErrNotFound):
		log.Error("data failed verification", "op", op, "err", err)
		return syscall.EIO
	case errors.Is(err, objectstore.ErrPermission):
		log.Error("store refused", "op", op, "err", err)
		return syscall.EACCES
	}
	log.Error("I/O error", "op", op, "err", err)
	return syscall.EIO
}
