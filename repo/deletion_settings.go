package repo

import (
	"errors"
	"fmt"
	"time"

	"coffer/duration"
)

// The deletion settings' defaults and the floors below which init asks
// for --unsafe-short-delays.
const (
	// DefaultDeletionDelay is how long a deletion request waits before
	// prune may act on it: the brief's 14 days.
	DefaultDeletionDelay = 14 * 24 * time.Hour
	// DefaultPruneMargin is how long a prune plan is published before
	// prune deletes what it names, so that running daemons see it first.
	DefaultPruneMargin = 15 * time.Minute
	// SnapshotInterval is the time between snapshots the retention is
	// assumed to cover beyond the delay: locks are renewed at snapshots,
	// so an object a request stopped extending stays locked at least
	// R - SnapshotInterval after the request, which must outlast the
	// delay.
	SnapshotInterval = 24 * time.Hour
)

// ErrUnsafeDeletion: init was asked for a deletion delay, prune margin or
// retention that would let deletions happen sooner than promised.
var ErrUnsafeDeletion = errors.New("unsafe deletion settings")

// DeletionSettings are fixed at init, sealed in the config.
type DeletionSettings struct {
	DelaySeconds  int64 `json:"delay_seconds"`
	MarginSeconds int64 `json:"prune_margin_seconds"`
	// Unsafe records that init was told to accept settings below the
	// floors (tests, demonstrations); doctor and snapshots say so.
	Unsafe bool `json:"unsafe,omitempty"`
}

// Delay is how long a deletion request waits before it matures.
func (d DeletionSettings) Delay() time.Duration { return time.Duration(d.DelaySeconds) * time.Second }

// Margin is how long a prune plan is published before it is carried out.
func (d DeletionSettings) Margin() time.Duration {
	return time.Duration(d.MarginSeconds) * time.Second
}

// NewDeletionSettings rounds delay and margin up to whole seconds; zero
// takes the default.
func NewDeletionSettings(delay, margin time.Duration, unsafe bool) DeletionSettings {
	secs := func(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
	return DeletionSettings{DelaySeconds: secs(delay), MarginSeconds: secs(margin), Unsafe: unsafe}.withDefaults()
}

func (d DeletionSettings) withDefaults() DeletionSettings {
	if d.DelaySeconds <= 0 {
		d.DelaySeconds = int64(DefaultDeletionDelay / time.Second)
	}
	if d.MarginSeconds <= 0 {
		d.MarginSeconds = int64(DefaultPruneMargin / time.Second)
	}
	return d
}

// CheckDeletion refuses settings that would let a deletion come sooner
// than the delay promises. Without Unsafe: a delay under 14 days, a margin
// under 15 minutes, or a retention R > 0 under delay + SnapshotInterval.
// With Unsafe, only a retention R > 0 not longer than the delay (the lock
// would lapse before a request matures, so nothing would enforce it).
// R = 0 is a repository without object lock: coffer alone keeps the delay.
func CheckDeletion(p Policy, d DeletionSettings) error {
	d = d.withDefaults()
	r := p.Period()
	if d.Unsafe {
		if r > 0 && r <= d.Delay() {
			return fmt.Errorf("%w: the retention (%s) must be longer than the deletion delay (%s), or the lock lapses before a request matures",
				ErrUnsafeDeletion, duration.Format(r), duration.Format(d.Delay()))
		}
		return nil
	}
	if d.Delay() < DefaultDeletionDelay {
		return fmt.Errorf("%w: a deletion delay of %s is shorter than %s; pass --unsafe-short-delays if that is really meant",
			ErrUnsafeDeletion, duration.Format(d.Delay()), duration.Format(DefaultDeletionDelay))
	}
	if d.Margin() < DefaultPruneMargin {
		return fmt.Errorf("%w: a prune margin of %s is shorter than %s, which running daemons may not notice in time; pass --unsafe-short-delays if that is really meant",
			ErrUnsafeDeletion, duration.Format(d.Margin()), duration.Format(DefaultPruneMargin))
	}
	if r > 0 && r < d.Delay()+SnapshotInterval {
		return fmt.Errorf("%w: the retention (%s) must be at least the deletion delay plus a day between snapshots (%s): the lock is what enforces the delay; raise --retention",
			ErrUnsafeDeletion, duration.Format(r), duration.Format(d.Delay()+SnapshotInterval))
	}
	return nil
}

// deletion is the repository's deletion settings, defaults filled in.
func (r *Repository) deletion() DeletionSettings {
	if r.params.Deletion == nil {
		return DeletionSettings{}.withDefaults()
	}
	return r.params.Deletion.withDefaults()
}

// DeletionDelay is how long a deletion request waits before prune may
// carry it out, judged by the store's clock.
func (r *Repository) DeletionDelay() time.Duration { return r.deletion().Delay() }

// PruneMargin is how long prune publishes a plan before deleting what it
// names, so every running daemon sees the plan first.
func (r *Repository) PruneMargin() time.Duration { return r.deletion().Margin() }

// UnsafeDelays reports whether init accepted a delay, margin or retention
// below the safe floors (--unsafe-short-delays).
func (r *Repository) UnsafeDelays() bool { return r.deletion().Unsafe }
