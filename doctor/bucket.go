package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"coffer/objectstore"
)

const policyFix = "give this server credentials with the policy `coffer policy` prints (and keep the bucket owner's keys off the server)"

// bucket runs the S3 checks: the bucket's settings, then the canaries.
func (d *run) bucket(ctx context.Context, p Prober) error {
	versioning, err := p.ProbeVersioning(ctx)
	if err != nil {
		return fmt.Errorf("doctor: read the bucket's versioning: %w", err)
	}
	versioned := versioning == "Enabled"
	r := Result{Promise: PromiseVersioning, Status: Holds, Detail: "versioning " + orNever(versioning)}
	if !versioned {
		r.Status, r.Fix = Broken, "enable versioning on the bucket (better: make a new bucket with object lock, which turns versioning on for good)"
	}
	d.add(r)

	locked, defMode, err := p.ProbeObjectLock(ctx)
	if err != nil {
		return fmt.Errorf("doctor: read the bucket's object lock: %w", err)
	}
	r = Result{Promise: PromiseObjectLock, Status: Holds, Detail: "object lock on; the repository locks in " + string(d.o.Mode)}
	switch {
	case !locked:
		r.Status, r.Detail = Broken, "object lock is off"
		r.Fix = "object lock can only be set when a bucket is made: make a new bucket with object lock and a new repository in it"
	case d.o.Retention <= 0:
		r.Status, r.Detail = Broken, "object lock on, but the repository locks nothing (retention 0)"
		r.Fix = "make a new repository with a retention (coffer init --retention-days 30)"
	case defMode != "" && defMode != d.o.Mode:
		r.Status = Warning
		r.Detail += fmt.Sprintf("; the bucket's default retention is %s", defMode)
		r.Fix = "set the bucket's default retention mode to the repository's, or remove the default rule"
	}
	d.add(r)
	if d.o.Mode == objectstore.Governance {
		d.add(Result{Promise: PromiseGovernance, Status: Warning,
			Detail: "GOVERNANCE retention can be bypassed",
			Fix:    "any credentials holding s3:BypassGovernanceRetention can delete everything; make a COMPLIANCE repository, or keep such credentials off every server"})
	}

	if err := d.conditionalPut(ctx, p); err != nil {
		return err
	}
	now, err := d.serverNow(ctx)
	if err != nil {
		return err
	}
	// Put every canary first, so the short lock lapses while the others
	// are probed.
	lapsed, lapsedID, err := d.canary(ctx, "lapsed", lockFor(locked, objectstore.Compliance, now.Add(d.o.CanaryLock)))
	if err != nil {
		return err
	}
	comp, compID, err := d.canary(ctx, "compliance", lockFor(locked, objectstore.Compliance, now.Add(heldLock)))
	if err != nil {
		return err
	}
	gov, govID, err := d.canary(ctx, "governance", lockFor(locked, objectstore.Governance, now.Add(heldLock)))
	if err != nil {
		return err
	}
	if err := d.compliance(ctx, p, locked, comp, compID); err != nil {
		return err
	}
	if err := d.bypass(ctx, p, locked, gov, govID); err != nil {
		return err
	}
	d.deleteMarker(ctx, p, versioned, comp, compID)
	if err := d.deleteVersion(ctx, p, locked, lapsed, lapsedID); err != nil {
		return err
	}
	if versioned {
		d.add(refused(PromiseNoVersioning, p.ProbeRewriteVersioning(ctx), "rewriting versioning Enabled"))
	} else {
		d.add(Result{Promise: PromiseNoVersioning, Status: NotApplicable, Detail: "versioning is off, so there is no value to rewrite"})
	}
	if locked {
		d.add(refused(PromiseNoLockConfig, p.ProbeRewriteObjectLock(ctx), "rewriting the object lock configuration"))
	} else {
		d.add(Result{Promise: PromiseNoLockConfig, Status: NotApplicable, Detail: "object lock is off"})
	}
	return nil
}

// lockFor is a canary's retention: mode until until, or none when the
// bucket has no object lock.
func lockFor(locked bool, mode objectstore.Mode, until time.Time) objectstore.Retention {
	if !locked {
		return objectstore.Retention{}
	}
	return objectstore.Retention{Mode: mode, Until: until}
}

func orNever(s string) string {
	if s == "" {
		return "never enabled"
	}
	return s
}

// canary writes one canary object and returns its key and version ID.
func (d *run) canary(ctx context.Context, name string, ret objectstore.Retention) (string, string, error) {
	key := d.base + name
	vid, err := d.o.Store.Put(ctx, key, []byte("coffer doctor canary "+key+"\n"), ret)
	if err != nil {
		return "", "", fmt.Errorf("doctor: write canary %s: %w", key, err)
	}
	return key, vid, nil
}

// conditionalPut writes a canary twice with If-None-Match: *.
func (d *run) conditionalPut(ctx context.Context, p Prober) error {
	key := d.base + "conditional"
	if status, _, err := p.ProbeConditionalPut(ctx, key, []byte("first\n")); err != nil {
		return fmt.Errorf("doctor: write canary %s (HTTP %d): %w", key, status, err)
	}
	status, _, err := p.ProbeConditionalPut(ctx, key, []byte("second\n"))
	r := Result{Promise: PromiseConditionalPut, Status: Broken, Detail: fmt.Sprintf("the second PUT was answered %d", status)}
	switch {
	case status == http.StatusPreconditionFailed || errors.Is(err, objectstore.ErrExists):
		r.Status, r.Detail = Holds, "the second PUT was refused (412)"
	case status == http.StatusOK:
		r.Detail = "the second PUT was stored (200): the store ignores If-None-Match, so an overwrite goes unseen"
		r.Fix = "use a store that honours conditional writes (If-None-Match: *)"
	case status == http.StatusNotImplemented:
		r.Detail = "the store does not implement conditional writes (501)"
		r.Fix = "use a store that honours conditional writes (If-None-Match: *)"
	default:
		r.Detail = fmt.Sprintf("unexpected answer to the second PUT (HTTP %d): %v", status, err)
		r.Fix = "run doctor again; if it persists, check the store's support for If-None-Match"
	}
	d.add(r)
	return nil
}

// compliance tries to shorten a COMPLIANCE canary's lock and to switch it
// to GOVERNANCE, and reads its retention back after each attempt.
func (d *run) compliance(ctx context.Context, p Prober, locked bool, key, vid string) error {
	if !locked {
		d.add(Result{Promise: PromiseCompliance, Status: Broken, Detail: "object lock is off, so nothing is retained",
			Fix: "make a new bucket with object lock and a new repository in it"})
		return nil
	}
	before, err := p.ProbeRetention(ctx, key, vid)
	if err != nil {
		return fmt.Errorf("doctor: read canary %s's retention: %w", key, err)
	}
	tries := []struct {
		what string
		ret  objectstore.Retention
	}{
		{"shortened", objectstore.Retention{Mode: objectstore.Compliance, Until: before.Until.Add(-heldLock / 2)}},
		{"switched to GOVERNANCE", objectstore.Retention{Mode: objectstore.Governance, Until: before.Until}},
	}
	r := Result{Promise: PromiseCompliance, Status: Holds, Detail: "both refused"}
	for _, try := range tries {
		_ = p.ProbePutRetention(ctx, key, vid, try.ret) // judged by what is stored after
		after, err := p.ProbeRetention(ctx, key, vid)
		if err != nil {
			return fmt.Errorf("doctor: read canary %s's retention: %w", key, err)
		}
		if after.Mode != objectstore.Compliance || after.Until.Before(before.Until.Truncate(time.Second)) {
			r.Status = Broken
			r.Detail = fmt.Sprintf("a COMPLIANCE lock was %s (now %s until %s)", try.what, after.Mode, after.Until.UTC().Format(time.RFC3339))
			r.Fix = "the store does not enforce COMPLIANCE retention: use one that does (versitygw v1.8.0 or later, AWS S3)"
			break
		}
	}
	d.add(r)
	return nil
}

// bypass tries to delete a GOVERNANCE-locked canary with the bypass header.
func (d *run) bypass(ctx context.Context, p Prober, locked bool, key, vid string) error {
	err := p.ProbeDeleteVersion(ctx, key, vid, true)
	gone, lerr := d.gone(ctx, key, vid)
	if lerr != nil {
		return lerr
	}
	what := "a GOVERNANCE-locked canary was deleted with the bypass header"
	if !locked {
		what = "a canary was deleted (object lock is off, so nothing was locked)"
	}
	d.add(deleted(PromiseNoBypass, gone, err, "refused", what))
	return nil
}

// deleteMarker tries a DELETE without a version ID on a canary.
func (d *run) deleteMarker(ctx context.Context, p Prober, versioned bool, key, vid string) {
	err := p.ProbeDeleteMarker(ctx, key)
	r := refused(PromiseNoDeleteMarker, err, "a DELETE without a version ID")
	if err == nil && versioned {
		r.Detail = "a delete marker was placed on a canary: these credentials can hide any object"
	}
	d.add(r)
}

// deleteVersion waits for the short-locked canary's lock to lapse, then
// tries to delete that version: now only a denied permission stops it.
func (d *run) deleteVersion(ctx context.Context, p Prober, locked bool, key, vid string) error {
	if locked {
		now, err := d.serverNow(ctx)
		if err != nil {
			return err
		}
		ret, err := p.ProbeRetention(ctx, key, vid)
		if err != nil {
			return fmt.Errorf("doctor: read canary %s's retention: %w", key, err)
		}
		if wait := ret.Until.Sub(now) + time.Second; wait > 0 {
			if err := d.o.Sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	var err error
	if vid == "" {
		err = p.ProbeDeleteMarker(ctx, key) // an unversioned bucket deletes the object
	} else {
		err = p.ProbeDeleteVersion(ctx, key, vid, false)
	}
	gone, lerr := d.gone(ctx, key, vid)
	if lerr != nil {
		return lerr
	}
	d.add(deleted(PromiseNoDelete, gone, err, "refused, on a canary whose lock had lapsed",
		"a canary version was deleted: these credentials can delete every object once its lock lapses"))
	return nil
}

// gone reports whether a canary's version no longer exists.
func (d *run) gone(ctx context.Context, key, vid string) (bool, error) {
	found := false
	err := d.o.Store.ListVersions(ctx, key, func(v objectstore.Version) error {
		if v.Key == key && !v.DeleteMarker && (vid == "" || v.VersionID == vid) {
			found = true
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("doctor: list canary %s: %w", key, err)
	}
	return !found, nil
}

// deleted judges a delete the credentials should not be allowed by
// whether the canary is gone after it: gone is broken; a refusal for
// permission holds; any other answer is not proof.
func deleted(promise string, gone bool, err error, holds, broken string) Result {
	switch {
	case gone:
		return Result{Promise: promise, Status: Broken, Detail: broken, Fix: policyFix}
	case !errors.Is(err, objectstore.ErrPermission):
		return Result{Promise: promise, Status: Broken, Detail: fmt.Sprintf("unexpected answer: %v", err), Fix: "run doctor again"}
	}
	return Result{Promise: promise, Status: Holds, Detail: holds}
}

// refused judges a write the credentials should not be allowed: refused
// for permission holds; accepted is broken; anything else is not proof.
func refused(promise string, err error, what string) Result {
	switch {
	case err == nil:
		return Result{Promise: promise, Status: Broken, Detail: what + " was accepted", Fix: policyFix}
	case errors.Is(err, objectstore.ErrPermission):
		return Result{Promise: promise, Status: Holds, Detail: what + " was refused"}
	}
	return Result{Promise: promise, Status: Broken, Detail: fmt.Sprintf("%s: unexpected answer: %v", what, err), Fix: "run doctor again"}
}
