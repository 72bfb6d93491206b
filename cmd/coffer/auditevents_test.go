package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"coffer/audit"
	"coffer/objectstore/memory"
	"coffer/repo"
)

// TestAuditEventsSessionRecords: a read-write mount's record names its
// base, a commit record carries its start, and an unmount whose final
// commit failed writes no unmount record (the session stays open).
func TestAuditEventsSessionRecords(t *testing.T) {
	ctx := context.Background()
	st := memory.New(time.Now)
	secret := repo.Secret{KeyFile: make([]byte, 32)}
	if _, err := repo.Init(ctx, st, secret, repo.InitOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, st, secret, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	newEvents := func() *auditEvents {
		return &auditEvents{r: r, log: r.AuditLog("src", "host", "test"), counter: &audit.Counter{}, mode: "read-write",
			logger: logger, mounted: make(chan struct{})}
	}
	e := newEvents()
	e.Mounted(ctx, "0123456789abcdef0123456789abcdef")
	started := time.Now().UTC().Truncate(time.Second)
	e.Committed(ctx, &repo.Snapshot{ID: "fedcba9876543210fedcba9876543210", Started: started})
	e.Unmounted(ctx, false)
	e = newEvents()
	e.Mounted(ctx, "")
	e.Unmounted(ctx, true)

	entries, _, err := r.AuditLog("src", "host", "test").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, rec := range audit.Records(entries) {
		kinds = append(kinds, rec.Kind)
		switch {
		case rec.Kind == audit.KindMount && len(kinds) == 2:
			if len(rec.Snapshots) != 1 || rec.Snapshots[0] != "0123456789abcdef0123456789abcdef" {
				t.Errorf("mount record names %v, want the base", rec.Snapshots)
			}
		case rec.Kind == audit.KindCommit:
			if !rec.Snapshot.Started.Equal(started) {
				t.Errorf("commit record started %v, want %v", rec.Snapshot.Started, started)
			}
		}
	}
	want := []string{audit.KindGenesis, audit.KindMount, audit.KindCommit, audit.KindMount, audit.KindUnmount}
	if len(kinds) != len(want) {
		t.Fatalf("records %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("records %v, want %v", kinds, want)
		}
	}
}
