//go:build !linux

package local

import (
	"errors"
	"os"
)

// directBlock: see direct_linux.go. Elsewhere every write goes through
// the cache.
const directBlock = 4096

func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

func directStart([]byte) int { return -1 }

func readDirect(*os.File, int64, int64) ([]byte, error) { return nil, errors.ErrUnsupported }
