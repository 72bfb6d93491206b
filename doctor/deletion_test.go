package doctor

import (
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

func deletionAt(now time.Time) Deletion {
	return Deletion{Now: now, Delay: 14 * day, Margin: 15 * time.Minute, Retention: 15 * day,
		NewestSnapshot: now.Add(-12 * time.Hour)}
}

func findIn(t *testing.T, rs []Result, promise string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Promise == promise {
			return r
		}
	}
	t.Fatalf("no result for %q in %+v", promise, rs)
	return Result{}
}

// TestDelayVerdicts: the delay and margin are shown; unsafe ones warn.
func TestDelayVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := deletionAt(now)
	r := findIn(t, DeletionChecks(d), PromiseDeletionDelay)
	if r.Status != Holds || !strings.Contains(r.Detail, "deletion delay 14d") || !strings.Contains(r.Detail, "prune margin 15m0s") {
		t.Errorf("defaults: %s (%s)", r.Status, r.Detail)
	}
	d.Delay, d.Margin, d.Unsafe = 20*time.Second, 2*time.Second, true
	r = findIn(t, DeletionChecks(d), PromiseDeletionDelay)
	if r.Status != Warning || !strings.Contains(r.Detail, "unsafe") || !strings.Contains(r.Fix, "20s") {
		t.Errorf("unsafe: %s (%s) fix %q", r.Status, r.Detail, r.Fix)
	}
}

// TestPendingVerdicts: pending requests warn with how many, the earliest
// due date and who filed each; none holds.
func TestPendingVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := deletionAt(now)
	if r := findIn(t, DeletionChecks(d), PromiseNoPending); r.Status != Holds {
		t.Errorf("no requests: %s (%s)", r.Status, r.Detail)
	}
	d.Pending = []PendingRequest{
		{Key: "requests/bb", Due: now.Add(10 * day), Snapshots: []string{"s1aaaaaaaaaa", "s2"}, Source: "src1", Host: "h1"},
		{Key: "requests/aa", Due: now.Add(3 * day), Snapshots: []string{"s2"}, Held: 1},
	}
	r := findIn(t, DeletionChecks(d), PromiseNoPending)
	if r.Status != Warning || !strings.Contains(r.Detail, "2 request(s) pending for 2 snapshot(s)") ||
		!strings.Contains(r.Detail, "earliest due "+stamp(now.Add(3*day))) {
		t.Errorf("pending: %s (%s)", r.Status, r.Detail)
	}
	if !strings.Contains(r.Fix, "coffer requests") || !strings.Contains(r.Fix, "key") {
		t.Errorf("the fix does not say a key holder can file them nor how to list them: %q", r.Fix)
	}
	if len(r.Items) != 2 || !strings.Contains(r.Items[0], "requests/bb: 2 snapshot(s) s1aaaaaa s2") ||
		!strings.Contains(r.Items[0], "source src1 on h1") || strings.Contains(r.Items[0], "held") ||
		!strings.Contains(r.Items[1], "source unknown") || !strings.Contains(r.Items[1], "(1 held: prune leaves them)") {
		t.Errorf("items %q", r.Items)
	}
	d.Pending[1].Due = now.Add(-time.Hour)
	if r := findIn(t, DeletionChecks(d), PromiseNoPending); !strings.Contains(r.Detail, "matured") {
		t.Errorf("a matured request: %s", r.Detail)
	}
}

// TestCadenceVerdicts: the newest snapshot must be no older than the
// retention minus the delay, the margin the locks were sized for.
func TestCadenceVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		retention time.Duration
		newest    time.Time
		want      Status
	}{
		{"recent", 15 * day, now.Add(-12 * time.Hour), Holds},
		{"exactly at the margin", 15 * day, now.Add(-day), Holds},
		{"rarer than the margin", 15 * day, now.Add(-day - time.Second), Warning},
		{"long retention", 60 * day, now.Add(-30 * day), Holds},
		{"no snapshots", 15 * day, time.Time{}, NotApplicable},
		{"no lock", 0, now.Add(-90 * day), NotApplicable},
	} {
		d := deletionAt(now)
		d.Retention, d.NewestSnapshot = c.retention, c.newest
		r := findIn(t, DeletionChecks(d), PromiseSnapshotCadence)
		if r.Status != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, r.Status, r.Detail, c.want)
		}
		if r.Status == Warning && (!strings.Contains(r.Fix, "at least every 1d") || !strings.Contains(r.Detail, "allows 1d")) {
			t.Errorf("%s: detail %q fix %q", c.name, r.Detail, r.Fix)
		}
	}
}
