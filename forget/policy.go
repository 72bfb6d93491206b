package forget

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"coffer/duration"
	"coffer/repo"
)

// Policy is restic's expire policy: which snapshots of one host to keep.
// A snapshot any rule keeps is kept; the others are requested for
// deletion. Counts of zero and a zero Within turn their rule off.
type Policy struct {
	Last    int           // the newest N snapshots
	Hourly  int           // the newest snapshot of each of the last N hours that have one
	Daily   int           // ... of each of the last N days (UTC) that have one
	Weekly  int           // ... of each of the last N ISO weeks
	Monthly int           // ... of each of the last N months
	Yearly  int           // ... of each of the last N years
	Within  time.Duration // every snapshot uploaded within this of the host's newest
	// Tags: every snapshot that carries all the tags of at least one of
	// these lists (restic's --keep-tag a,b keeps snapshots with both a
	// and b; --keep-tag a --keep-tag b keeps those with either).
	Tags [][]string
}

// Empty reports whether no rule is set: such a policy keeps everything,
// and forget refuses it rather than guess.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 &&
		p.Yearly == 0 && p.Within == 0 && len(p.Tags) == 0
}

// Check refuses negative counts and durations.
func (p Policy) Check() error {
	for _, c := range []struct {
		flag string
		n    int
	}{{"keep-last", p.Last}, {"keep-hourly", p.Hourly}, {"keep-daily", p.Daily},
		{"keep-weekly", p.Weekly}, {"keep-monthly", p.Monthly}, {"keep-yearly", p.Yearly}} {
		if c.n < 0 {
			return fmt.Errorf("--%s %d: a count of snapshots to keep cannot be negative", c.flag, c.n)
		}
	}
	if p.Within < 0 {
		return errors.New("--keep-within: the duration cannot be negative")
	}
	return nil
}

// String is the policy as the flags that give it, for a request's note
// and the audit log: "--keep-daily 7 --keep-within 30d".
func (p Policy) String() string {
	var parts []string
	for _, c := range []struct {
		flag string
		n    int
	}{{"keep-last", p.Last}, {"keep-hourly", p.Hourly}, {"keep-daily", p.Daily},
		{"keep-weekly", p.Weekly}, {"keep-monthly", p.Monthly}, {"keep-yearly", p.Yearly}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("--%s %d", c.flag, c.n))
		}
	}
	if p.Within > 0 {
		parts = append(parts, "--keep-within "+duration.Format(p.Within))
	}
	for _, t := range p.Tags {
		parts = append(parts, "--keep-tag "+strings.Join(t, ","))
	}
	return strings.Join(parts, " ")
}

// The reasons a rule gives for keeping a snapshot, as restic words them.
const (
	ReasonLast    = "last snapshot"
	ReasonHourly  = "hourly snapshot"
	ReasonDaily   = "daily snapshot"
	ReasonWeekly  = "weekly snapshot"
	ReasonMonthly = "monthly snapshot"
	ReasonYearly  = "yearly snapshot"
)

// Verdict is what a policy says of one snapshot.
type Verdict struct {
	Snapshot *repo.Snapshot
	Keep     bool
	Reasons  []string // the rules that keep it; none for a snapshot to remove
}

// bucket is one counting rule: it keeps the newest snapshot of each
// period (its key differs from the previous kept one's) until its count
// is spent.
type bucket struct {
	count  int
	key    func(t time.Time, nr int) int
	last   int
	reason string
}

// Apply judges list, all of one host, by p. Each snapshot's time is its
// upload time (Snapshot.Uploaded, the store's clock), never the time
// written inside it: a snapshot planted with a forged newer time cannot
// push real ones out of a count. Periods are UTC hours, days, ISO weeks,
// months and years. Verdicts come newest first (see newerFirst); an
// empty policy keeps everything.
func Apply(list []*repo.Snapshot, p Policy) []Verdict {
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, newerFirst)
	out := make([]Verdict, len(sorted))
	if p.Empty() {
		for i, s := range sorted {
			out[i] = Verdict{Snapshot: s, Keep: true, Reasons: []string{"policy is empty"}}
		}
		return out
	}
	buckets := []bucket{
		{p.Last, func(_ time.Time, nr int) int { return nr }, -1, ReasonLast},
		{p.Hourly, func(t time.Time, _ int) int { return ymd(t)*100 + t.Hour() }, -1, ReasonHourly},
		{p.Daily, func(t time.Time, _ int) int { return ymd(t) }, -1, ReasonDaily},
		{p.Weekly, func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }, -1, ReasonWeekly},
		{p.Monthly, func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }, -1, ReasonMonthly},
		{p.Yearly, func(t time.Time, _ int) int { return t.Year() }, -1, ReasonYearly},
	}
	var cutoff time.Time
	if len(sorted) > 0 && p.Within > 0 {
		cutoff = sorted[0].Uploaded.Add(-p.Within) // the newest upload: never later than the store's now
	}
	for nr, s := range sorted {
		t := s.Uploaded.UTC()
		v := Verdict{Snapshot: s}
		for _, tags := range p.Tags {
			if hasAll(s.Tags, tags) {
				v.Reasons = append(v.Reasons, "has tags "+strings.Join(tags, ","))
			}
		}
		if p.Within > 0 && t.After(cutoff) {
			v.Reasons = append(v.Reasons, "within "+duration.Format(p.Within))
		}
		for i := range buckets {
			b := &buckets[i]
			if b.count <= 0 {
				continue
			}
			if k := b.key(t, nr); k != b.last {
				b.last = k
				b.count--
				v.Reasons = append(v.Reasons, b.reason)
			}
		}
		v.Keep = len(v.Reasons) > 0
		out[nr] = v
	}
	return out
}

// newerFirst orders snapshots newest upload first. S3 gives upload times
// to the second, so snapshots uploaded in one second are ordered by their
// own times (a forger can reorder only within that second), then by ID.
func newerFirst(a, b *repo.Snapshot) int {
	if c := b.Uploaded.Compare(a.Uploaded); c != 0 {
		return c
	}
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func ymd(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }

// hasAll reports whether have includes every tag of want (an empty want
// matches nothing, as a --keep-tag "" should not keep everything).
func hasAll(have, want []string) bool {
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
