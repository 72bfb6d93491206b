package forget

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"coffer/repo"
)

func snapAt(n int, host string, t time.Time) *repo.Snapshot {
	return &repo.Snapshot{ID: fmt.Sprintf("%c%031x", host[0], n), Host: host, Time: t, Uploaded: t}
}

// fiveDays is five daily snapshots of web1 and two of db1.
func fiveDays() []*repo.Snapshot {
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	var out []*repo.Snapshot
	for i := range 5 {
		out = append(out, snapAt(i, "web1", start.Add(time.Duration(i)*24*time.Hour)))
	}
	for i := range 2 {
		out = append(out, snapAt(i, "db1", start.Add(time.Duration(i)*24*time.Hour+time.Hour)))
	}
	return out
}

func actions(p *Plan) map[string]Action {
	out := map[string]Action{}
	for _, r := range p.Rows {
		out[r.Snapshot.ID] = r.Action
	}
	return out
}

// TestPolicyPlanGroupsByHost: each host keeps its own newest; --host
// leaves the other hosts out entirely.
func TestPolicyPlanGroupsByHost(t *testing.T) {
	snaps := fiveDays()
	p := PolicyPlan(snaps, &repo.Deletions{}, Policy{Last: 2}, "")
	want := []string{snaps[0].ID, snaps[1].ID, snaps[2].ID}
	if !slices.Equal(sorted(p.Remove), sorted(want)) {
		t.Fatalf("remove %v, want the three oldest of web1 and none of db1's two", p.Remove)
	}
	if len(p.Rows) != 7 || p.Rows[0].Snapshot.Host != "db1" {
		t.Fatalf("rows: %d, first host %s; want every snapshot, grouped by host", len(p.Rows), p.Rows[0].Snapshot.Host)
	}
	p = PolicyPlan(snaps, &repo.Deletions{}, Policy{Last: 1}, "db1")
	if len(p.Rows) != 2 || !slices.Equal(p.Remove, []string{snaps[5].ID}) {
		t.Fatalf("--host db1: rows %d, remove %v", len(p.Rows), p.Remove)
	}
}

// TestPolicyPlanSetsAsideHeldAndPending: a held snapshot the rules would
// remove is kept ("held"); one already requested is not requested again
// and does not count in the rules, so forgetting twice asks for nothing
// new.
func TestPolicyPlanSetsAsideHeldAndPending(t *testing.T) {
	snaps := fiveDays()[:5]
	now := snaps[4].Uploaded.Add(time.Hour)
	d := &repo.Deletions{Now: now, Delay: time.Hour,
		Requests: []*repo.DeletionRequest{{Key: "requests/aa", Due: now.Add(time.Hour), Snapshots: []string{snaps[0].ID}, Cancelled: map[string]string{}}},
		Holds:    []*repo.Hold{{Key: "holds/bb", Snapshots: []string{snaps[1].ID}, Released: map[string]string{}}},
	}
	p := PolicyPlan(snaps, d, Policy{Last: 2}, "")
	a := actions(p)
	if a[snaps[0].ID] != Pending || a[snaps[1].ID] != Held || a[snaps[2].ID] != Remove ||
		a[snaps[3].ID] != Keep || a[snaps[4].ID] != Keep {
		t.Fatalf("actions %v", a)
	}
	if !slices.Equal(p.Remove, []string{snaps[2].ID}) {
		t.Fatalf("remove %v", p.Remove)
	}
	for _, r := range p.Rows {
		if r.Action == Pending && (!r.Due.Equal(now.Add(time.Hour)) || len(r.Reasons) != 1) {
			t.Fatalf("pending row: due %v reasons %v", r.Due, r.Reasons)
		}
	}
	// After the request is written, the same policy requests nothing.
	d.Requests = append(d.Requests, &repo.DeletionRequest{Key: "requests/cc", Due: now.Add(time.Hour), Snapshots: p.Remove, Cancelled: map[string]string{}})
	if again := PolicyPlan(snaps, d, Policy{Last: 2}, ""); len(again.Remove) != 0 {
		t.Fatalf("forgetting twice requests %v again", again.Remove)
	}
}

// TestExplicitPlan: a named snapshot is requested once; an already
// requested one is not asked again; a held one is refused.
func TestExplicitPlan(t *testing.T) {
	snaps := fiveDays()
	d := &repo.Deletions{
		Requests: []*repo.DeletionRequest{{Key: "requests/aa", Due: snaps[4].Uploaded, Snapshots: []string{snaps[0].ID}, Cancelled: map[string]string{}}},
		Holds:    []*repo.Hold{{Key: "holds/bb", Snapshots: []string{snaps[1].ID}, Released: map[string]string{snaps[1].ID: "releases/cc"}}},
	}
	p, err := ExplicitPlan(snaps, d, []string{snaps[0].ID, snaps[1].ID, snaps[1].ID, snaps[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Remove, []string{snaps[1].ID, snaps[2].ID}) || len(p.Rows) != 3 {
		t.Fatalf("remove %v rows %d", p.Remove, len(p.Rows))
	}
	d.Holds[0].Released = map[string]string{}
	if _, err := ExplicitPlan(snaps, d, []string{snaps[2].ID, snaps[1].ID}); !errors.Is(err, ErrHeld) {
		t.Fatalf("a held snapshot named: %v, want ErrHeld", err)
	}
}

// TestCancellations: a request named whole is cancelled whole; a
// snapshot is cancelled in every request still naming it; what is
// cancelled already gives nothing.
func TestCancellations(t *testing.T) {
	a, b, c := "a", "b", "c"
	r1 := &repo.DeletionRequest{Key: "requests/1111aaaa", Snapshots: []string{a, b}, Cancelled: map[string]string{}}
	r2 := &repo.DeletionRequest{Key: "requests/1111bbbb", Snapshots: []string{b, c}, Cancelled: map[string]string{}}
	r3 := &repo.DeletionRequest{Key: "requests/2222cccc", Snapshots: []string{c}, Cancelled: map[string]string{c: "cancellations/x"}}
	d := &repo.Deletions{Requests: []*repo.DeletionRequest{r1, r2, r3}}

	got := Cancellations(d, []*repo.DeletionRequest{r1}, []string{b, c, a})
	if len(got) != 2 || got[0].Request != r1 || got[0].Snapshots != nil ||
		got[1].Request != r2 || !slices.Equal(got[1].Snapshots, []string{b, c}) {
		t.Fatalf("cancellations %+v", got)
	}
	if got := Cancellations(d, []*repo.DeletionRequest{r3}, []string{"zzz"}); len(got) != 0 {
		t.Fatalf("nothing pending, yet %+v", got)
	}
	if len(PendingRequests(d)) != 2 {
		t.Fatal("a fully cancelled request is listed as pending")
	}

	for ref, want := range map[string]*repo.DeletionRequest{"requests/2222cccc": r3, "2222": r3, "1111a": r1} {
		if req, err := FindRequest(d, ref); err != nil || req != want {
			t.Errorf("FindRequest(%q) = %v, %v", ref, req, err)
		}
	}
	if _, err := FindRequest(d, "1111"); !errors.Is(err, ErrAmbiguousRequest) {
		t.Errorf("a shared prefix: %v", err)
	}
	if _, err := FindRequest(d, "3333"); !errors.Is(err, ErrNoRequest) {
		t.Errorf("no such request: %v", err)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestPolicyStringAndCheck: the note names the flags; negative counts
// and durations are refused.
func TestPolicyStringAndCheck(t *testing.T) {
	p := Policy{Last: 2, Daily: 7, Within: 30 * 24 * time.Hour, Tags: [][]string{{"a", "b"}}}
	if got := p.String(); got != "--keep-last 2 --keep-daily 7 --keep-within 30d --keep-tag a,b" {
		t.Errorf("String() = %q", got)
	}
	if p.Check() != nil || (Policy{Weekly: -1}).Check() == nil || (Policy{Within: -time.Hour}).Check() == nil {
		t.Error("Check does not refuse negative values, or refuses a good policy")
	}
	if !(Policy{}).Empty() || (Policy{Tags: [][]string{{"x"}}}).Empty() {
		t.Error("Empty is wrong")
	}
}

// TestTimeWarningBothWays: a snapshot stamped ahead of or behind its
// upload by more than ForgedSkew is warned of; one within it is not.
func TestTimeWarningBothWays(t *testing.T) {
	up := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		skew time.Duration
		want string
	}{{time.Hour, "after"}, {-time.Hour, "before"}, {ForgedSkew - time.Second, ""}, {-ForgedSkew + time.Second, ""}} {
		row := newRow(&repo.Snapshot{ID: "a", Uploaded: up, Time: up.Add(tc.skew)}, nil)
		w := row.TimeWarning()
		if tc.want == "" && w != "" || tc.want != "" && !strings.Contains(w, "1h "+tc.want) {
			t.Errorf("skew %v: %q", tc.skew, w)
		}
	}
}
