package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// TestRepositoryChecks runs doctor over the memory store (no Prober, so
// the local subset) and checks each repository promise both ways.
func TestRepositoryChecks(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	locked := objectstore.Retention{Mode: objectstore.Compliance, Until: now.Add(30 * 24 * time.Hour)}
	setup := func(t *testing.T) *memory.Store {
		st := memory.New(func() time.Time { return now })
		for _, k := range []string{"config", "keys/a", "audit/0000000001", "data/p1"} {
			if _, err := st.Put(ctx, k, []byte(k), locked); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	opts := func(st objectstore.Store) Options {
		return Options{Store: st, Mode: objectstore.Compliance, Retention: 30 * 24 * time.Hour,
			Clock: func() time.Time { return now }}
	}

	t.Run("clean", func(t *testing.T) {
		rep, err := Run(ctx, opts(setup(t)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{PromiseConditionalPut, PromiseClock, PromiseLockedMeta, PromiseRetention, PromiseNoTampering} {
			if r, _ := rep.Find(p); r.Status != Holds {
				t.Errorf("%s: %s (%s)", p, r.Status, r.Detail)
			}
		}
		if r, _ := rep.Find(PromiseNoDelete); r.Status != NotApplicable {
			t.Errorf("a store without Prober got %s for %q", r.Status, PromiseNoDelete)
		}
		if rep.Failed() {
			t.Errorf("clean repository failed: %v", rep.FailedPromises())
		}
	})
	t.Run("tampered", func(t *testing.T) {
		st := setup(t)
		st.Overwrite("config", []byte("forged"))
		st.Hide("data/p1")
		rep, err := Run(ctx, opts(st))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := rep.Find(PromiseNoTampering)
		items := strings.Join(r.Items, "\n")
		if r.Status != Broken || !strings.Contains(items, "config: later version") || !strings.Contains(items, "data/p1: delete marker") {
			t.Errorf("tampering: %s %q", r.Status, r.Items)
		}
		for _, it := range r.Items {
			if strings.HasPrefix(it, CanaryPrefix) {
				t.Errorf("doctor reported its own canary: %s", it)
			}
		}
	})
	t.Run("unlocked slot", func(t *testing.T) {
		st := setup(t)
		if _, err := st.Put(ctx, "keys/b", []byte("b"), objectstore.Retention{}); err != nil {
			t.Fatal(err)
		}
		rep, _ := Run(ctx, opts(st))
		if r, _ := rep.Find(PromiseLockedMeta); r.Status != Broken || len(r.Items) != 1 || !strings.HasPrefix(r.Items[0], "keys/b") {
			t.Errorf("unlocked slot: %s %q", r.Status, r.Items)
		}
	})
	t.Run("short retention and skewed clock", func(t *testing.T) {
		o := opts(setup(t))
		o.Retention = 7 * 24 * time.Hour
		o.Clock = func() time.Time { return now.Add(-2 * time.Minute) }
		rep, _ := Run(ctx, o)
		for _, p := range []string{PromiseRetention, PromiseClock} {
			if r, _ := rep.Find(p); r.Status != Broken || r.Fix == "" {
				t.Errorf("%s: %s, fix %q", p, r.Status, r.Fix)
			}
		}
		var text, js bytes.Buffer
		if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "FAIL "+PromiseRetention) {
			t.Errorf("text report: %v\n%s", err, text.String())
		}
		var back Report
		if err := rep.WriteJSON(&js); err != nil || json.Unmarshal(js.Bytes(), &back) != nil || !back.Failed() {
			t.Errorf("JSON report does not round-trip: %v\n%s", err, js.String())
		}
	})
}
