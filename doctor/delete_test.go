package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// deleteProber answers the delete probes as a store would: it removes
// the canary from st when it "allows" the delete, and answers err either
// way (a server that deletes and then says no is caught by the listing).
type deleteProber struct {
	Prober  // only the delete and retention probes are called
	st      *memory.Store
	allow   bool  // the delete happens
	err     error // the answer
	ret     objectstore.Retention
	bypass  []bool // the bypass flag of each ProbeDeleteVersion
	markers int    // ProbeDeleteMarker calls
}

func (p *deleteProber) ProbeDeleteVersion(ctx context.Context, key, vid string, bypass bool) error {
	p.bypass = append(p.bypass, bypass)
	if p.allow {
		if err := p.st.DeleteVersion(ctx, key, vid); err != nil {
			return err
		}
	}
	return p.err
}

func (p *deleteProber) ProbeDeleteMarker(ctx context.Context, key string) error {
	p.markers++
	if p.allow {
		if err := p.st.Delete(ctx, key); err != nil {
			return err
		}
	}
	return p.err
}

func (p *deleteProber) ProbeRetention(context.Context, string, string) (objectstore.Retention, error) {
	return p.ret, nil
}

var (
	errDenied = fmt.Errorf("s3: %w", objectstore.ErrPermission)
	errReset  = fmt.Errorf("s3: connection reset: %w", objectstore.ErrUnavailable)
)

// deleteCases are the server's possible answers and the verdict each
// must give: only a refusal for permission that left the canary proves
// the promise.
var deleteCases = []struct {
	name  string
	allow bool
	err   error
	want  Status
	says  string
}{
	{"refused", false, errDenied, Holds, "refused"},
	{"deleted", true, nil, Broken, "deleted"},
	{"deleted but answered 403", true, errDenied, Broken, "deleted"},
	{"outage", false, errReset, Broken, "unexpected answer"},
	{"accepted but kept", false, nil, Broken, "unexpected answer"},
}

// canaryRun is a doctor run over a memory store at now, holding one
// unlocked canary; it returns the run, the store and the canary.
func canaryRun(t *testing.T, now time.Time, sleep func(context.Context, time.Duration) error) (*run, *memory.Store, string, string) {
	t.Helper()
	st := memory.New(func() time.Time { return now })
	key := CanaryPrefix + "t/canary"
	vid, err := st.Put(context.Background(), key, []byte("canary"), objectstore.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	return &run{o: Options{Store: st, Sleep: sleep}, base: CanaryPrefix + "t/"}, st, key, vid
}

// TestBypassVerdicts: the bypass probe sends the bypass header and is
// judged by whether the GOVERNANCE canary is still there.
func TestBypassVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range deleteCases {
		for _, locked := range []bool{true, false} {
			d, st, key, vid := canaryRun(t, now, nil)
			p := &deleteProber{st: st, allow: c.allow, err: c.err}
			if err := d.bypass(context.Background(), p, locked, key, vid); err != nil {
				t.Fatal(err)
			}
			r := d.results[0]
			if r.Promise != PromiseNoBypass || r.Status != c.want || !strings.Contains(r.Detail, c.says) {
				t.Errorf("%s (locked %v): %s %s (%s), want %s saying %q", c.name, locked, r.Promise, r.Status, r.Detail, c.want, c.says)
			}
			if len(p.bypass) != 1 || !p.bypass[0] {
				t.Errorf("%s: delete probes sent with bypass %v, want one with the header", c.name, p.bypass)
			}
			if c.want == Broken && c.allow && !locked && !strings.Contains(r.Detail, "object lock is off") {
				t.Errorf("%s without object lock: detail %q does not say the lock is off", c.name, r.Detail)
			}
			if c.want == Broken && r.Fix == "" {
				t.Errorf("%s: broken without a fix", c.name)
			}
		}
	}
}

// TestDeleteVersionVerdicts: the delete probe waits for the canary's
// lock to lapse by the store's clock (a 403 on a locked version proves
// nothing), never sends the bypass header, and is judged by the listing.
func TestDeleteVersionVerdicts(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range deleteCases {
		var slept []time.Duration
		sleep := func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
		d, st, key, vid := canaryRun(t, now, sleep)
		p := &deleteProber{st: st, allow: c.allow, err: c.err,
			ret: objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(3 * time.Second)}}
		if err := d.deleteVersion(context.Background(), p, true, key, vid); err != nil {
			t.Fatal(err)
		}
		r := d.results[0]
		if r.Promise != PromiseNoDelete || r.Status != c.want || !strings.Contains(r.Detail, c.says) {
			t.Errorf("%s: %s %s (%s), want %s saying %q", c.name, r.Promise, r.Status, r.Detail, c.want, c.says)
		}
		if len(slept) != 1 || slept[0] != 4*time.Second {
			t.Errorf("%s: slept %v, want once for the lock's 3 s and a second more", c.name, slept)
		}
		if len(p.bypass) != 1 || p.bypass[0] {
			t.Errorf("%s: delete probes sent with bypass %v, want one without the header", c.name, p.bypass)
		}
	}
}

// TestDeleteVersionUnlockedAndUnversioned: without object lock there is
// nothing to wait for; on an unversioned bucket (no version ID) the probe
// is a plain DELETE, which there removes the object.
func TestDeleteVersionUnlockedAndUnversioned(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	failSleep := func(context.Context, time.Duration) error { return errors.New("slept without a lock") }
	d, st, key, _ := canaryRun(t, now, failSleep)
	p := &deleteProber{st: st, allow: true}
	if err := d.deleteVersion(context.Background(), p, false, key, ""); err != nil {
		t.Fatal(err)
	}
	if r := d.results[0]; r.Status != Broken || p.markers != 1 || len(p.bypass) != 0 {
		t.Errorf("unversioned delete allowed: %s (%s), %d plain DELETEs, %d by version; want broken after one plain DELETE",
			r.Status, r.Detail, p.markers, len(p.bypass))
	}
	d, st, key, vid := canaryRun(t, now, failSleep)
	p = &deleteProber{st: st, err: errDenied}
	if err := d.deleteVersion(context.Background(), p, false, key, vid); err != nil {
		t.Fatal(err)
	}
	if r := d.results[0]; r.Status != Holds {
		t.Errorf("refused without a lock: %s (%s), want holds", r.Status, r.Detail)
	}
}
