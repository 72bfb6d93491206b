package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"coffer/objectstore"
)

// LifecycleProber reads the bucket's lifecycle rules that can act on the
// repository's keys; *s3.Store implements it. supported is false where
// the provider has no lifecycle rules (versitygw).
type LifecycleProber interface {
	ProbeLifecycle(ctx context.Context) (rules []objectstore.LifecycleRule, supported bool, err error)
}

// lifecycle judges the provider's lifecycle rules against the deletion
// delay. coffer needs none (prune removes every version itself); a rule
// that deletes noncurrent versions sooner than the delay removes what a
// delete marker or an overwrite hid, once its lock lapses, with no
// request, no prune and no audit record, faster than a deletion could be
// noticed and cancelled; a rule that expires current versions only
// places delete markers, which reads ignore but doctor reports.
func (d *run) lifecycle(ctx context.Context, p LifecycleProber) {
	rules, supported, err := p.ProbeLifecycle(ctx)
	d.add(lifecycleVerdict(rules, supported, err, d.delay()))
}

// lifecycleVerdict is lifecycle's judgement, apart from the request.
func lifecycleVerdict(rules []objectstore.LifecycleRule, supported bool, err error, delay time.Duration) Result {
	delayDays := int((delay + 24*time.Hour - 1) / (24 * time.Hour)) // lifecycle rules count whole days
	suggest := fmt.Sprintf("coffer needs none; if you want versions hidden by delete markers or overwrites cleared, a NoncurrentVersionExpiration of at least %d days (the deletion delay) is safe", delayDays)
	switch {
	case errors.Is(err, objectstore.ErrPermission):
		return Result{Promise: PromiseLifecycle, Status: Warning,
			Detail: "the credentials may not read the bucket's lifecycle rules",
			Fix:    "grant s3:GetLifecycleConfiguration (the policy `coffer policy` prints does), or check the rules with the bucket owner's credentials: none may expire noncurrent versions in fewer than " + fmt.Sprint(delayDays) + " days"}
	case err != nil:
		return Result{Promise: PromiseLifecycle, Status: Warning,
			Detail: fmt.Sprintf("the bucket's lifecycle rules could not be read: %v", err), Fix: "run doctor again"}
	case !supported:
		return Result{Promise: PromiseLifecycle, Status: NotApplicable,
			Detail: "the store has no lifecycle rules (versitygw has none); coffer needs none"}
	case len(rules) == 0:
		return Result{Promise: PromiseLifecycle, Status: Holds, Detail: "no lifecycle rule acts on the repository; " + suggest}
	}
	var short, markers []string
	for _, r := range rules {
		name := fmt.Sprintf("rule %q (prefix %q)", r.ID, r.Prefix)
		if r.NoncurrentDays > 0 && r.NoncurrentDays < delayDays {
			short = append(short, fmt.Sprintf("%s: NoncurrentVersionExpiration after %d days, shorter than the %d-day deletion delay", name, r.NoncurrentDays, delayDays))
		}
		if r.ExpirationDays != 0 {
			markers = append(markers, fmt.Sprintf("%s: Expiration places delete markers on coffer's objects", name))
		}
	}
	switch {
	case len(short) > 0:
		return Result{Promise: PromiseLifecycle, Status: Broken, Items: append(short, markers...),
			Detail: fmt.Sprintf("%d rule(s) delete hidden versions sooner than the deletion delay", len(short)),
			Fix:    fmt.Sprintf("lengthen NoncurrentVersionExpiration to at least %d days or remove the rule: sooner, the provider removes what a delete marker or an overwrite hid, once unlocked, with no request, prune or audit record, before anyone could notice", delayDays)}
	case len(markers) > 0:
		return Result{Promise: PromiseLifecycle, Status: Warning, Items: markers,
			Detail: "an Expiration rule hides coffer's objects behind delete markers; reads ignore them, doctor reports them as tampering",
			Fix:    "remove the Expiration action from rules that cover the repository (coffer's prune deletes what has matured)"}
	}
	return Result{Promise: PromiseLifecycle, Status: Holds,
		Detail: fmt.Sprintf("%d rule(s), none deletes versions sooner than the %d-day deletion delay (%s)", len(rules), delayDays, ruleIDs(rules))}
}

func ruleIDs(rules []objectstore.LifecycleRule) string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = fmt.Sprintf("%q", r.ID)
	}
	return strings.Join(ids, ", ")
}
