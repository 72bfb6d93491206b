package forget

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"coffer/repo"
)

// resticTimes is the snapshot list of restic's TestApplyPolicy
// (internal/restic/snapshot_policy_test.go), with the exact duplicates of
// 2015-10-22 10:20:30 left out (their order among themselves is
// arbitrary): times and tags.
var resticTimes = []struct {
	t    string
	tags []string
}{
	{"2014-09-01 10:20:30", nil}, {"2014-09-02 10:20:30", nil}, {"2014-09-05 10:20:30", nil},
	{"2014-09-06 10:20:30", nil}, {"2014-09-08 10:20:30", nil}, {"2014-09-09 10:20:30", nil},
	{"2014-09-10 10:20:30", nil}, {"2014-09-11 10:20:30", nil}, {"2014-09-20 10:20:30", nil},
	{"2014-09-22 10:20:30", nil}, {"2014-08-08 10:20:30", nil}, {"2014-08-10 10:20:30", nil},
	{"2014-08-12 10:20:30", nil}, {"2014-08-13 10:20:30", nil}, {"2014-08-13 10:20:30.1", nil},
	{"2014-08-15 10:20:30", nil}, {"2014-08-18 10:20:30", nil}, {"2014-08-20 10:20:30", nil},
	{"2014-08-21 10:20:30", nil}, {"2014-08-22 10:20:30", nil},
	{"2014-10-01 10:20:30", []string{"foo"}}, {"2014-10-02 10:20:30", []string{"foo"}},
	{"2014-10-05 10:20:30", []string{"foo"}}, {"2014-10-06 10:20:30", []string{"foo"}},
	{"2014-10-08 10:20:30", []string{"foo"}}, {"2014-10-09 10:20:30", []string{"foo"}},
	{"2014-10-10 10:20:30", []string{"foo"}}, {"2014-10-11 10:20:30", []string{"foo"}},
	{"2014-10-20 10:20:30", []string{"foo"}}, {"2014-10-22 10:20:30", []string{"foo"}},
	{"2014-11-08 10:20:30", []string{"foo"}}, {"2014-11-10 10:20:30", []string{"foo"}},
	{"2014-11-12 10:20:30", []string{"foo"}}, {"2014-11-13 10:20:30", []string{"foo"}},
	{"2014-11-13 10:20:30.1", []string{"bar"}}, {"2014-11-15 10:20:30", []string{"foo", "bar"}},
	{"2014-11-18 10:20:30", nil}, {"2014-11-20 10:20:30", nil}, {"2014-11-21 10:20:30", nil},
	{"2014-11-22 10:20:30", nil},
	{"2015-09-01 10:20:30", nil}, {"2015-09-02 10:20:30", nil}, {"2015-09-05 10:20:30", nil},
	{"2015-09-06 10:20:30", nil}, {"2015-09-08 10:20:30", nil}, {"2015-09-09 10:20:30", nil},
	{"2015-09-10 10:20:30", nil}, {"2015-09-11 10:20:30", nil}, {"2015-09-20 10:20:30", nil},
	{"2015-09-22 10:20:30", nil}, {"2015-08-08 10:20:30", nil}, {"2015-08-10 10:20:30", nil},
	{"2015-08-12 10:20:30", nil}, {"2015-08-13 10:20:30", nil}, {"2015-08-13 10:20:30.1", nil},
	{"2015-08-15 10:20:30", nil}, {"2015-08-18 10:20:30", nil}, {"2015-08-20 10:20:30", nil},
	{"2015-08-21 10:20:30", nil}, {"2015-08-22 10:20:30", nil},
	{"2015-10-01 10:20:30", nil}, {"2015-10-02 10:20:30", nil}, {"2015-10-05 10:20:30", nil},
	{"2015-10-06 10:20:30", nil}, {"2015-10-08 10:20:30", nil}, {"2015-10-09 10:20:30", nil},
	{"2015-10-10 10:20:30", nil}, {"2015-10-11 10:20:30", nil}, {"2015-10-20 10:20:30", nil},
	{"2015-10-22 10:20:30", []string{"foo", "bar"}},
	{"2015-11-08 10:20:30", nil}, {"2015-11-10 10:20:30", nil}, {"2015-11-12 10:20:30", nil},
	{"2015-11-13 10:20:30", nil}, {"2015-11-13 10:20:30.1", nil}, {"2015-11-15 10:20:30", nil},
	{"2015-11-18 10:20:30", nil}, {"2015-11-20 10:20:30", nil}, {"2015-11-21 10:20:30", nil},
	{"2015-11-22 10:20:30", nil},
	{"2016-01-01 01:02:03", nil}, {"2016-01-01 01:03:03", nil}, {"2016-01-01 07:08:03", nil},
	{"2016-01-03 07:02:03", nil}, {"2016-01-04 10:23:03", nil}, {"2016-01-04 11:23:03", nil},
	{"2016-01-04 12:23:03", nil}, {"2016-01-04 12:24:03", nil}, {"2016-01-04 12:28:03", nil},
	{"2016-01-04 12:30:03", nil}, {"2016-01-04 16:23:03", nil}, {"2016-01-05 09:02:03", nil},
	{"2016-01-06 08:02:03", nil}, {"2016-01-07 10:02:03", nil}, {"2016-01-08 20:02:03", nil},
	{"2016-01-09 21:02:03", nil}, {"2016-01-12 21:02:03", nil}, {"2016-01-12 21:08:03", nil},
	{"2016-01-18 12:02:03", nil},
}

func mustTime(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// resticSnapshots are resticTimes as snapshots of one host, uploaded at
// the time they carry.
func resticSnapshots() []*repo.Snapshot {
	out := make([]*repo.Snapshot, len(resticTimes))
	for i, e := range resticTimes {
		t := mustTime(e.t)
		out[i] = &repo.Snapshot{ID: fmt.Sprintf("%032x", i+1), Time: t, Uploaded: t, Host: "web1", Tags: e.tags}
	}
	return out
}

// kept lists the upload times Apply keeps, newest first, in the test's
// format (fractions as .1).
func kept(vs []Verdict) []string {
	var out []string
	for _, v := range vs {
		if v.Keep {
			out = append(out, strings.TrimSuffix(v.Snapshot.Uploaded.Format("2006-01-02 15:04:05.0"), ".0"))
		}
	}
	return out
}

// TestApplyRestic: restic's bucket rules over restic's own example list.
// The expected sets follow restic's rules by hand; the combined policy
// is restic's golden file policy_keep_snapshots_17.
func TestApplyRestic(t *testing.T) {
	tests := []struct {
		p    Policy
		want []string
	}{
		{Policy{Last: 10}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-12 21:02:03",
			"2016-01-09 21:02:03", "2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03",
			"2016-01-05 09:02:03", "2016-01-04 16:23:03", "2016-01-04 12:30:03"}},
		{Policy{Hourly: 20}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03",
			"2016-01-08 20:02:03", "2016-01-07 10:02:03", "2016-01-06 08:02:03", "2016-01-05 09:02:03",
			"2016-01-04 16:23:03", "2016-01-04 12:30:03", "2016-01-04 11:23:03", "2016-01-04 10:23:03",
			"2016-01-03 07:02:03", "2016-01-01 07:08:03", "2016-01-01 01:03:03", "2015-11-22 10:20:30",
			"2015-11-21 10:20:30", "2015-11-20 10:20:30", "2015-11-18 10:20:30", "2015-11-15 10:20:30",
			"2015-11-13 10:20:30.1"}},
		{Policy{Daily: 3}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03"}},
		{Policy{Weekly: 2}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03"}},
		// ISO week 53 of 2015 runs from 2015-12-28 to 2016-01-03.
		{Policy{Weekly: 4}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03", "2016-01-03 07:02:03"}},
		{Policy{Monthly: 6}, []string{"2016-01-18 12:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
			"2015-09-22 10:20:30", "2015-08-22 10:20:30", "2014-11-22 10:20:30"}},
		{Policy{Yearly: 10}, []string{"2016-01-18 12:02:03", "2015-11-22 10:20:30", "2014-11-22 10:20:30"}},
		{Policy{Daily: 7, Weekly: 2, Monthly: 3, Yearly: 10}, []string{"2016-01-18 12:02:03",
			"2016-01-12 21:08:03", "2016-01-09 21:02:03", "2016-01-08 20:02:03", "2016-01-07 10:02:03",
			"2016-01-06 08:02:03", "2016-01-05 09:02:03", "2015-11-22 10:20:30", "2015-10-22 10:20:30",
			"2014-11-22 10:20:30"}},
		{Policy{Within: 2 * 24 * time.Hour}, []string{"2016-01-18 12:02:03"}},
		{Policy{Within: 7 * 24 * time.Hour}, []string{"2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-12 21:02:03"}},
		{Policy{Tags: [][]string{{"foo", "bar"}}}, []string{"2015-10-22 10:20:30", "2014-11-15 10:20:30"}},
		{Policy{Tags: [][]string{{"bar"}, {"nothing"}}}, []string{"2015-10-22 10:20:30", "2014-11-15 10:20:30", "2014-11-13 10:20:30.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			vs := Apply(resticSnapshots(), tc.p)
			if len(vs) != len(resticTimes) {
				t.Fatalf("%d verdicts for %d snapshots", len(vs), len(resticTimes))
			}
			if got := kept(vs); !slices.Equal(got, tc.want) {
				t.Fatalf("kept\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, v := range vs {
				if v.Keep != (len(v.Reasons) > 0) {
					t.Fatalf("%s: keep %v with reasons %v", v.Snapshot.ID, v.Keep, v.Reasons)
				}
			}
		})
	}
	// restic's reasons for the newest snapshot under the combined policy.
	vs := Apply(resticSnapshots(), Policy{Daily: 7, Weekly: 2, Monthly: 3, Yearly: 10})
	if want := []string{ReasonDaily, ReasonWeekly, ReasonMonthly, ReasonYearly}; !slices.Equal(vs[0].Reasons, want) {
		t.Fatalf("reasons of the newest: %v, want %v", vs[0].Reasons, want)
	}
}

// TestApplyForTagsNeedsAllOfOneList: --keep-tag foo,bar keeps only
// snapshots with both; tags foo alone keeps every foo.
func TestApplyTagsFoo(t *testing.T) {
	vs := Apply(resticSnapshots(), Policy{Tags: [][]string{{"foo"}}})
	if n := len(kept(vs)); n != 16 {
		t.Fatalf("--keep-tag foo kept %d, want the 16 snapshots tagged foo", n)
	}
}

// TestApplyJudgesByUploadTime: snapshots planted long ago with forged
// times in the future would be "the newest" by their own time, and a
// count would keep them instead of the real ones; by upload time the real
// ones stay newest. And against fresh plants (uploaded now), --keep-within
// keeps every real snapshot of the period whatever their number.
func TestApplyJudgesByUploadTime(t *testing.T) {
	day := 24 * time.Hour
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	var snaps []*repo.Snapshot
	for i := range 10 {
		t := start.Add(time.Duration(i) * day)
		snaps = append(snaps, &repo.Snapshot{ID: fmt.Sprintf("a%031x", i), Time: t, Uploaded: t, Host: "web1"})
	}
	for i := range 3 { // uploaded before the real ones, stamped next year
		snaps = append(snaps, &repo.Snapshot{ID: fmt.Sprintf("f%031x", i), Host: "web1",
			Time: start.AddDate(1, 0, i), Uploaded: start.Add(-day + time.Duration(i)*time.Minute)})
	}
	vs := Apply(snaps, Policy{Last: 3})
	for _, v := range vs {
		real := strings.HasPrefix(v.Snapshot.ID, "a")
		newest := real && v.Snapshot.Uploaded.After(start.Add(6*day))
		if v.Keep != newest {
			t.Errorf("%s (time %v, uploaded %v): keep %v", v.Snapshot.ID, v.Snapshot.Time, v.Snapshot.Uploaded, v.Keep)
		}
	}
	plan := PolicyPlan(snaps, &repo.Deletions{}, Policy{Last: 3}, "")
	warned := 0
	for _, r := range plan.Rows {
		if r.TimeWarning() != "" {
			warned++
			if !strings.HasPrefix(r.Snapshot.ID, "f") || !strings.Contains(r.TimeWarning(), "forged") {
				t.Errorf("%s: warning %q", r.Snapshot.ID, r.TimeWarning())
			}
		}
	}
	if warned != 3 {
		t.Fatalf("%d rows warn of their time, want the 3 forged", warned)
	}

	// Ten plants uploaded just now: a count keeps only them, --keep-within
	// keeps the real week too.
	now := start.Add(10 * day)
	for i := range 10 {
		snaps = append(snaps, &repo.Snapshot{ID: fmt.Sprintf("b%031x", i), Host: "web1", Time: now, Uploaded: now.Add(time.Duration(i) * time.Second)})
	}
	vs = Apply(snaps, Policy{Last: 10, Within: 7 * day})
	for _, v := range vs {
		if v.Snapshot.ID[0] == 'a' && v.Snapshot.Uploaded.After(now.Add(-7*day)) && !v.Keep {
			t.Errorf("real snapshot %s of the last week not kept under --keep-within", v.Snapshot.ID)
		}
	}
}

// TestApplyOrdersOneSecondByOwnTime: S3 upload times have whole seconds,
// so snapshots committed in one second tie; their own times order them,
// and --keep-last keeps the ones written last.
func TestApplyOrdersOneSecondByOwnTime(t *testing.T) {
	up := time.Date(2026, 12, 1, 22, 41, 14, 0, time.UTC)
	var snaps []*repo.Snapshot
	for i, id := range []string{"f1", "6d", "23", "ff"} { // IDs out of order
		snaps = append(snaps, &repo.Snapshot{ID: id, Host: "web1", Uploaded: up, Time: up.Add(time.Duration(i) * 100 * time.Millisecond)})
	}
	var keep []string
	for _, v := range Apply(snaps, Policy{Last: 2}) {
		if v.Keep {
			keep = append(keep, v.Snapshot.ID)
		}
	}
	if !slices.Equal(keep, []string{"ff", "23"}) {
		t.Fatalf("kept %v, want the two committed last", keep)
	}
}
