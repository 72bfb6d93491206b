package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/repo"
)

// fakeGuard hands out the plans and errors it is given.
type fakeGuard struct {
	mu      sync.Mutex
	plans   []*repo.PrunePlan // returned by the next refresh, once
	err     error             // returned by every refresh while set
	calls   int
	gen     uint64
	dropped []uint64 // marks dropped
	margin  time.Duration
}

func (g *fakeGuard) RefreshPlans(context.Context) ([]*repo.PrunePlan, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.err != nil {
		return nil, g.err
	}
	p := g.plans
	g.plans = nil
	return p, nil
}
func (g *fakeGuard) PlansRefreshed() time.Time                   { return time.Time{} }
func (g *fakeGuard) RefreshInterval() time.Duration              { return 10 * time.Millisecond }
func (g *fakeGuard) PruneMargin() time.Duration                  { return g.margin }
func (g *fakeGuard) StoreNow(context.Context) (time.Time, error) { return time.Now(), nil }
func (g *fakeGuard) MarkRelied() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	return g.gen - 1
}
func (g *fakeGuard) DropRelied(m uint64) {
	g.mu.Lock()
	g.dropped = append(g.dropped, m)
	g.mu.Unlock()
}

func (g *fakeGuard) droppedMarks() []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint64(nil), g.dropped...)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func guardFixture(t *testing.T, g *fakeGuard) (*fixture, *syncBuffer) {
	f := newFixture(t, time.Second)
	var log syncBuffer
	f.cfg.Guard = g
	f.cfg.Log = slog.New(slog.NewTextHandler(&log, nil))
	f.d = New(f.cfg)
	return f, &log
}

// TestPlanNamingTheBaseCommits: a plan that names the head's base is an
// error in the log, and the head is committed at once.
func TestPlanNamingTheBaseCommits(t *testing.T) {
	g := &fakeGuard{margin: time.Minute, plans: []*repo.PrunePlan{{Key: "prune/p1", Snapshots: []string{"b0"}}}}
	f, log := guardFixture(t, g)
	f.h.open, f.h.base = nil, "b0"
	done := f.run(context.Background())
	waitFor(t, "the commit", func() bool { f.h.mu.Lock(); defer f.h.mu.Unlock(); return len(f.h.commits) == 1 })
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "prune/p1") {
		t.Fatalf("log lacks the error naming the plan:\n%s", log)
	}
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshFailureWarnsThenErrs: refreshes that fail are warnings, and
// errors once the plans went unread for longer than the margin.
func TestRefreshFailureWarnsThenErrs(t *testing.T) {
	g := &fakeGuard{margin: 100 * time.Millisecond, err: errors.New("store down")}
	f, log := guardFixture(t, g)
	f.h.open = nil
	done := f.run(context.Background())
	waitFor(t, "an error after the margin", func() bool { return strings.Contains(log.String(), "level=ERROR") })
	out := log.String()
	if w, e := strings.Index(out, "level=WARN"), strings.Index(out, "level=ERROR"); w < 0 || w > e {
		t.Fatalf("want warnings first, then errors:\n%s", out)
	}
	g.mu.Lock()
	g.err = nil
	g.mu.Unlock()
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// TestCommitDropsReliedOnlyWithNoWriter: a commit that began with a file
// open for writing keeps the relied set; one with none drops what was
// given before it began.
func TestCommitDropsReliedOnlyWithNoWriter(t *testing.T) {
	g := &fakeGuard{margin: time.Minute}
	f, _ := guardFixture(t, g)
	if _, err := f.d.commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if d := g.droppedMarks(); len(d) != 0 {
		t.Fatalf("a commit with /big.bin open dropped marks %v", d)
	}
	f.h.mu.Lock()
	f.h.open = nil
	f.h.mu.Unlock()
	s, err := f.d.commit(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := g.droppedMarks(); len(d) != 1 || d[0] != 1 {
		t.Fatalf("dropped marks %v, want [1] (the second commit's)", d)
	}
	if s.Started.IsZero() {
		t.Fatal("the commit's start time is not set")
	}
	f.h.fail = errors.New("store down")
	if _, err := f.d.commit(context.Background(), nil); err == nil {
		t.Fatal("commit did not fail")
	}
	if d := g.droppedMarks(); len(d) != 1 {
		t.Fatalf("a failed commit dropped marks: %v", d)
	}
}

// TestFailedFinalCommitLeavesSessionOpen: when the final commit of a
// stop by signal fails, the unmount is reported as not committed.
func TestFailedFinalCommitLeavesSessionOpen(t *testing.T) {
	f := newFixture(t, time.Second)
	ev := &recordingEvents{}
	f.cfg.Events = ev
	f.d = New(f.cfg)
	f.h.open = nil
	f.h.fail = errors.New("store down")
	ctx, cancel := context.WithCancel(context.Background())
	done := f.run(ctx)
	call(t, f, "ping")
	cancel()
	if err := wait(t, done); err == nil {
		t.Fatal("Run returned nil after the final commit failed")
	}
	if got := ev.String(); !strings.HasSuffix(got, "unmounted uncommitted") {
		t.Fatalf("events = %q, want the unmount reported as not committed", got)
	}
}
