package inspect

import (
	"errors"

	"coffer/repo"
)

// damagedOrMissing reports whether err is a damaged object or a block no
// index names: what a reader names and steps over, where a store that
// fails ends it.
func damagedOrMissing(err error) bool {
	return repo.IsDamage(err) || errors.Is(err, repo.ErrMissingBlock)
}
