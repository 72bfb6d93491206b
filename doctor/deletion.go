package doctor

import (
	"fmt"
	"strings"
	"time"
)

// The deletion promises, judged from what the repository records (the
// caller reads it: doctor itself talks only to the store).
const (
	PromiseDeletionDelay   = "deletions wait the deletion delay"
	PromiseNoPending       = "no deletion requests are pending"
	PromiseSnapshotCadence = "snapshots renew the locks before the delay outlasts them"
)

// Deletion is the repository's deletion state as doctor judges it.
type Deletion struct {
	// Now is the store's clock; every date below is the store's.
	Now time.Time
	// Delay and Margin are the repository's deletion delay and prune
	// margin; Unsafe says init was given --unsafe-short-delays.
	Delay, Margin time.Duration
	Unsafe        bool
	// Retention is the repository's lock period R (zero: nothing locked).
	Retention time.Duration
	// Pending are the uncancelled deletion requests.
	Pending []PendingRequest
	// NewestSnapshot is the store's upload time of the newest snapshot of
	// any source; zero if there is none.
	NewestSnapshot time.Time
}

// PendingRequest is one deletion request with snapshots still pending.
type PendingRequest struct {
	Key       string    // requests/<hex>
	Due       time.Time // the store's upload time plus the delay
	Snapshots []string  // the snapshots it still asks for
	Held      int       // how many of them a hold keeps from prune
	Source    string
	Host      string
}

// DeletionChecks returns the deletion verdicts: the delay and margin (a
// warning when they were made unsafely short), pending requests (a
// warning: a key holder can file them), and whether snapshots come often
// enough that the locks, renewed at each snapshot, outlast the delay.
func DeletionChecks(d Deletion) []Result {
	return []Result{delayVerdict(d), pendingVerdict(d), cadenceVerdict(d)}
}

func delayVerdict(d Deletion) Result {
	r := Result{Promise: PromiseDeletionDelay, Status: Holds,
		Detail: fmt.Sprintf("deletion delay %s, prune margin %s", days(d.Delay), days(d.Margin))}
	if d.Unsafe {
		r.Status = Warning
		r.Detail += "; made with --unsafe-short-delays"
		r.Fix = fmt.Sprintf("a deletion request matures after %s and prune removes what it plans after %s: too short to notice and cancel a request you did not file, and a backup running during prune may lose data; for real backups make a repository with the defaults (14 days, 15 minutes)", days(d.Delay), days(d.Margin))
	}
	return r
}

func pendingVerdict(d Deletion) Result {
	if len(d.Pending) == 0 {
		return Result{Promise: PromiseNoPending, Status: Holds, Detail: "none pending"}
	}
	snaps := map[string]bool{}
	earliest := d.Pending[0].Due
	var items []string
	for _, p := range d.Pending {
		for _, s := range p.Snapshots {
			snaps[s] = true
		}
		if p.Due.Before(earliest) {
			earliest = p.Due
		}
		held := ""
		if p.Held > 0 {
			held = fmt.Sprintf(" (%d held: prune leaves them)", p.Held)
		}
		items = append(items, fmt.Sprintf("%s: %d snapshot(s) %s%s, due %s, filed by source %s on %s",
			p.Key, len(p.Snapshots), strings.Join(shortIDs(p.Snapshots), " "), held, stamp(p.Due), orUnknown(p.Source), orUnknown(p.Host)))
	}
	due := "earliest due " + stamp(earliest)
	if !earliest.After(d.Now) {
		due = "earliest matured " + stamp(earliest) + ": prune will remove it"
	}
	return Result{Promise: PromiseNoPending, Status: Warning, Items: clipItems(items),
		Detail: fmt.Sprintf("%d request(s) pending for %d snapshot(s), %s", len(d.Pending), len(snaps), due),
		Fix:    "anyone holding the key can file a deletion request: `coffer requests` lists them; cancel any you did not ask for with `coffer forget --cancel REQUEST` before it is due"}
}

func cadenceVerdict(d Deletion) Result {
	r := Result{Promise: PromiseSnapshotCadence}
	switch {
	case d.Retention <= 0:
		r.Status, r.Detail = NotApplicable, "the repository locks nothing"
		return r
	case d.NewestSnapshot.IsZero():
		r.Status, r.Detail = NotApplicable, "no snapshots yet"
		return r
	}
	// A snapshot locks everything live for R from its time, so a request
	// filed later than R - delay after it matures after the locks lapse:
	// from then on only coffer's own rules, not the store, hold the delay.
	margin := d.Retention - d.Delay
	since := d.Now.Sub(d.NewestSnapshot)
	r.Detail = fmt.Sprintf("newest snapshot %s ago; retention %s minus delay %s allows %s between snapshots",
		days(since.Round(time.Second)), days(d.Retention), days(d.Delay), days(margin))
	if since <= margin {
		r.Status = Holds
		return r
	}
	r.Status = Warning
	r.Fix = fmt.Sprintf("take a snapshot (coffer snapshot MOUNTPOINT renews every live object's lock) at least every %s, or make the repository with a longer retention: until then a deletion request could mature after the locks that should enforce its delay have lapsed", days(margin))
	return r
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if len(id) > 8 {
			id = id[:8]
		}
		out[i] = id
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
