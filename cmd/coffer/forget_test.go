package main

import (
	"testing"
	"time"

	"coffer/forget"
	"coffer/repo"
)

// TestForgetChecksFlags: combinations forget cannot make sense of are
// refused before the repository is opened.
func TestForgetChecksFlags(t *testing.T) {
	day := forget.Policy{Daily: 7}
	tests := []struct {
		o    forgetOptions
		args []string
		ok   bool
	}{
		{forgetOptions{policy: day}, nil, true},
		{forgetOptions{}, []string{"latest"}, true},
		{forgetOptions{cancel: true}, []string{"3f2a"}, true},
		{forgetOptions{}, nil, false},                                    // nothing to do
		{forgetOptions{policy: day}, []string{"latest"}, false},          // both
		{forgetOptions{host: "web1"}, []string{"latest"}, false},         // --host without a policy
		{forgetOptions{cancel: true}, nil, false},                        // cancel what?
		{forgetOptions{cancel: true, policy: day}, []string{"x"}, false}, // cancel a policy?
		{forgetOptions{cancel: true, dryRun: true}, []string{"x"}, false},
		{forgetOptions{policy: forget.Policy{Last: -1}}, nil, false},
	}
	for _, tc := range tests {
		if err := tc.o.check(tc.args); (err == nil) != tc.ok {
			t.Errorf("%+v %v: %v", tc.o, tc.args, err)
		}
	}
}

// TestListRequests: a request's state follows the store's clock and its
// cancellations; its snapshots say which are held, cancelled or gone.
func TestListRequests(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a := &repo.Snapshot{ID: "aa", Time: now.Add(-time.Hour)}
	b := &repo.Snapshot{ID: "bb", Time: now.Add(-30 * time.Minute)}
	d := &repo.Deletions{Now: now,
		Requests: []*repo.DeletionRequest{
			{Key: "requests/1", Due: now.Add(-time.Second), Snapshots: []string{"aa", "gone"}, Cancelled: map[string]string{}},
			{Key: "requests/2", Due: now.Add(time.Hour), Snapshots: []string{"bb"}, Cancelled: map[string]string{}},
			{Key: "requests/3", Due: now, Snapshots: []string{"aa"}, Cancelled: map[string]string{"aa": "cancellations/x"}},
		},
		Holds: []*repo.Hold{{Key: "holds/1", Snapshots: []string{"bb"}, Released: map[string]string{}}},
	}
	got := listRequests(d, []*repo.Snapshot{a, b}, false)
	if len(got) != 2 || got[0].State != stateDue || got[1].State != statePending {
		t.Fatalf("requests %+v", got)
	}
	if got[0].Snapshots[1].State != "gone" || got[1].Snapshots[0].State != "held" {
		t.Fatalf("snapshot states %+v %+v", got[0].Snapshots, got[1].Snapshots)
	}
	if all := listRequests(d, []*repo.Snapshot{a, b}, true); len(all) != 3 || all[2].State != stateCancelled {
		t.Fatalf("--all: %+v", all)
	}
}
