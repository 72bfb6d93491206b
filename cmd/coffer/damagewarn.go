package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// damageCount warns of damaged trees a listing steps over, and makes the
// command end incomplete (exit 7) after its output.
type damageCount struct {
	cmd *cobra.Command
	n   int
}

func damageWarner(cmd *cobra.Command) *damageCount { return &damageCount{cmd: cmd} }

// warn is an OnDamage: one warning line, and go on.
func (d *damageCount) warn(_ string, err error) error {
	d.n++
	fmt.Fprintf(d.cmd.ErrOrStderr(), "coffer: warning: %s (left out)\n", oneLine(err.Error()))
	return nil
}

// result is nil if nothing was damaged, else the incomplete error.
func (d *damageCount) result(what string) error {
	if d.n == 0 {
		return nil
	}
	return incompleteError{fmt.Errorf("%s: %d trees could not be read and what they hold was left out, named above (coffer check says more)", what, d.n)}
}
