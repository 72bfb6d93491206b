package prune

import "time"

// The safety margins of prune, in one place. The prune margin itself (how
// long a published plan waits before anything it names is deleted) is the
// repository's setting (repo.PruneMargin).
const (
	// packSlack: a pack uploaded later than this before an open session's
	// window start is never planned nor deleted; it covers the clocks of
	// the store's front ends disagreeing, and a pack whose upload began
	// before the window and finished after. A shorter prune margin
	// (unsafe, for tests) shortens it to the margin.
	packSlack = time.Minute
	// commitStartGuess is how long before its record a commit is assumed
	// to have begun when the record does not say (records written before
	// commit records carried their start).
	commitStartGuess = 10 * time.Minute
	// compactAt: when at least this many index objects exist, a plan
	// compacts all of them into one, whether or not they name packs it
	// removes.
	compactAt = 8
	// pollEvery bounds how often Run reads the store's clock while it
	// waits for a plan's margin to pass.
	pollEvery = 5 * time.Second
)
