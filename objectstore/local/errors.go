package local

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"coffer/objectstore"
)

// translateError is the one place file-system errors become objectstore
// sentinels, wrapped with the operation and key.
func translateError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		sentinel = objectstore.ErrNotFound
	case errors.Is(err, fs.ErrExist):
		sentinel = objectstore.ErrExists
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		sentinel = objectstore.ErrPermission
	case errors.Is(err, syscall.EIO):
		sentinel = objectstore.ErrUnavailable
	}
	if sentinel == nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	return fmt.Errorf("local %s %s: %w: %w", op, key, sentinel, err)
}
