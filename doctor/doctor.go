package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"coffer/objectstore"
)

// The promises doctor checks, as they appear in its report.
const (
	PromiseVersioning     = "versioning is on"
	PromiseObjectLock     = "object lock is on, in the repository's mode"
	PromiseConditionalPut = "a second conditional PUT of a key is refused"
	PromiseCompliance     = "COMPLIANCE retention cannot be shortened or switched to GOVERNANCE"
	PromiseNoDelete       = "these credentials cannot delete a version"
	PromiseNoDeleteMarker = "these credentials cannot place a delete marker"
	PromiseNoBypass       = "these credentials cannot bypass GOVERNANCE retention"
	PromiseNoVersioning   = "these credentials cannot change versioning"
	PromiseNoLockConfig   = "these credentials cannot change the object lock configuration"
	PromiseClock          = "the store's clock is within a minute of ours"
	PromiseLockedMeta     = "key slots, revocations and audit records are locked"
	PromiseRetention      = "retention outlasts the deletion delay"
	PromiseNoTampering    = "no later versions or delete markers on coffer's keys"
	PromiseGovernance     = "GOVERNANCE mode protects against these credentials"
	PromiseLifecycle      = "no lifecycle rule deletes versions sooner than the deletion delay"
)

// Margins doctor works with, named in one place.
const (
	// CanaryPrefix holds every object doctor writes; nothing else is
	// written, and the tampering scan skips it.
	CanaryPrefix = "doctor/"
	// DefaultDeletionDelay is the delay before a deletion request matures
	// (promise 5 of DESIGN.md). Retention must be at least this, or an
	// object could lose its lock while a request to delete it can still
	// be cancelled.
	DefaultDeletionDelay = 14 * 24 * time.Hour
	// MaxClockSkew is how far the store's clock may be from ours.
	MaxClockSkew = time.Minute
	// defaultCanaryLock is the lock of the canary whose lapse the delete
	// probe waits for: S3 answers 403 both for a locked version and for a
	// denied permission, so only a lapsed lock tells them apart.
	defaultCanaryLock = 3 * time.Second
	// heldLock is the lock of the canaries that must stay locked while
	// they are probed (shorten, switch mode, bypass).
	heldLock = 2 * time.Minute
)

// Prober is what doctor needs beyond the Store contract on S3: raw
// requests whose answers it judges itself. *s3.Store implements it (its
// Probe methods); other stores do not, and the checks that need it are
// reported as not applicable.
type Prober interface {
	ProbeVersioning(ctx context.Context) (string, error)
	ProbeObjectLock(ctx context.Context) (enabled bool, defaultMode objectstore.Mode, err error)
	ProbeConditionalPut(ctx context.Context, key string, data []byte) (status int, versionID string, err error)
	ProbePutRetention(ctx context.Context, key, versionID string, ret objectstore.Retention) error
	ProbeRetention(ctx context.Context, key, versionID string) (objectstore.Retention, error)
	ProbeDeleteVersion(ctx context.Context, key, versionID string, bypassGovernance bool) error
	ProbeDeleteMarker(ctx context.Context, key string) error
	ProbeRewriteVersioning(ctx context.Context) error
	ProbeRewriteObjectLock(ctx context.Context) error
}

// Options say what to check.
type Options struct {
	// Store is the repository's store (with its prefix).
	Store objectstore.Store
	// Mode and Retention are the repository's retention policy; a zero
	// Retention means the repository locks nothing.
	Mode      objectstore.Mode
	Retention time.Duration
	// DeletionDelay is the delay before deletion requests mature; zero
	// means there is none yet and DefaultDeletionDelay is checked.
	DeletionDelay time.Duration
	// Clock is our clock, compared with the store's. Required.
	Clock func() time.Time
	// Sleep waits d or until ctx ends; nil sleeps for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// CanaryLock is the short lock of the canary the delete probe waits
	// out; zero means three seconds.
	CanaryLock time.Duration
}

// ErrOptions: Run was called without what it needs.
var ErrOptions = errors.New("doctor: incomplete options")

// Run probes every promise and returns the report. An error means doctor
// could not run at all (no store, a store that cannot be reached); a
// promise that fails is a Broken result, not an error.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Store == nil || o.Clock == nil {
		return Report{}, fmt.Errorf("%w: a store and a clock are required", ErrOptions)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.CanaryLock <= 0 {
		o.CanaryLock = defaultCanaryLock
	}
	if o.Mode == "" {
		o.Mode = objectstore.Compliance
	}
	d := &run{o: o}
	now, err := d.serverNow(ctx)
	if err != nil {
		return Report{}, err
	}
	d.base = fmt.Sprintf("%s%s-%s/", CanaryPrefix, now.UTC().Format("20060102T150405Z"), randomHex(4))
	d.clock(now)
	if p, ok := o.Store.(Prober); ok {
		if err := d.bucket(ctx, p); err != nil {
			return Report{}, err
		}
		if lp, ok := o.Store.(LifecycleProber); ok {
			d.lifecycle(ctx, lp)
		} else {
			d.add(Result{Promise: PromiseLifecycle, Status: NotApplicable, Detail: "the store cannot report lifecycle rules"})
		}
	} else {
		if err := d.local(ctx); err != nil {
			return Report{}, err
		}
	}
	if err := d.lockedMetadata(ctx); err != nil {
		return Report{}, err
	}
	d.retention()
	if err := d.tampering(ctx); err != nil {
		return Report{}, err
	}
	return Report{Results: d.results}, nil
}

// run is one doctor run's state.
type run struct {
	o       Options
	base    string // this run's canary prefix, under CanaryPrefix
	results []Result
}

func (d *run) add(r Result) { d.results = append(d.results, r) }

// serverNow is the store's clock, for retain-until dates of canaries.
func (d *run) serverNow(ctx context.Context) (time.Time, error) {
	now, err := d.o.Store.Now(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("doctor: read the store's clock: %w", err)
	}
	return now, nil
}

// clock compares the store's clock with ours.
func (d *run) clock(server time.Time) {
	skew := server.Sub(d.o.Clock())
	r := Result{Promise: PromiseClock, Status: Holds,
		Detail: fmt.Sprintf("the store's clock is %s from ours", skew.Round(time.Second))}
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		r.Status = Broken
		r.Fix = "set this machine's clock right (NTP); retain-until dates and deletion maturity follow the store's clock, so a wrong local clock misleads every date coffer prints"
	}
	d.add(r)
}

// delay is the repository's deletion delay, or the default one.
func (d *run) delay() time.Duration {
	if d.o.DeletionDelay <= 0 {
		return DefaultDeletionDelay
	}
	return d.o.DeletionDelay
}

// retention checks that objects stay locked at least the deletion delay.
func (d *run) retention() {
	delay, note := d.delay(), ""
	if d.o.DeletionDelay <= 0 {
		note = "; no deletion delay exists yet, so the 14 days it will have were checked"
	}
	r := Result{Promise: PromiseRetention, Status: Holds,
		Detail: fmt.Sprintf("retention %s, deletion delay %s%s", days(d.o.Retention), days(delay), note)}
	if d.o.Retention < delay {
		r.Status = Broken
		r.Fix = "make a repository with a retention of at least the deletion delay (coffer init --retention-days 30): with less, objects lose their lock while a request to delete them can still be cancelled"
	}
	d.add(r)
}

func days(t time.Duration) string {
	if t%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", t/(24*time.Hour))
	}
	return t.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
