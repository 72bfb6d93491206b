package fs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"coffer/repo"
)

func TestPickBase(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(id, host string, i int) *repo.Snapshot {
		return &repo.Snapshot{ID: id, Host: host, Time: t0.Add(time.Duration(i) * time.Hour)}
	}
	a1, b1, a2, b2 := snap("a1", "a", 1), snap("b1", "b", 2), snap("a2", "a", 3), snap("b2", "b", 4)
	for _, tc := range []struct {
		name   string
		host   string
		snaps  []*repo.Snapshot
		parent string
		want   *repo.Snapshot
		warn   string // in the log, "" for no warning
	}{
		{"empty repository", "a", nil, "", nil, ""},
		{"latest is this host's", "a", []*repo.Snapshot{b1, a1, a2}, "", a2, ""},
		{"another host committed since", "a", []*repo.Snapshot{a1, b1, a2, b2}, "", a2, "not start from the repository's latest"},
		{"no snapshot of this host", "c", []*repo.Snapshot{a1, b2}, "", b2, "no snapshot of this host"},
		{"--parent", "a", []*repo.Snapshot{a1, a2}, "a1", a1, "not start from the repository's latest"},
		{"--parent latest", "a", []*repo.Snapshot{a1, a2}, "a2", a2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := &Head{host: tc.host, log: slog.New(slog.NewTextHandler(&log, nil))}
			got, err := h.pickBase(tc.snaps, tc.parent)
			if err != nil || got != tc.want {
				t.Fatalf("pickBase = %v, %v; want %v", got, err, tc.want)
			}
			if tc.warn == "" && log.Len() > 0 || !strings.Contains(log.String(), tc.warn) {
				t.Errorf("log %q, want it to say %q", log.String(), tc.warn)
			}
		})
	}
	h := &Head{host: "a", log: slog.New(slog.DiscardHandler)}
	if _, err := h.pickBase([]*repo.Snapshot{a1}, "zz"); err == nil {
		t.Error("pickBase with an unknown parent succeeded")
	}
}

func TestReportFork(t *testing.T) {
	a1 := &repo.Snapshot{ID: "a1"}
	b1 := &repo.Snapshot{ID: "b1"}
	for _, tc := range []struct {
		name  string
		snaps []*repo.Snapshot
		base  *repo.Snapshot
		fork  bool
	}{
		{"first snapshot", nil, nil, false},
		{"on the latest", []*repo.Snapshot{a1}, a1, false},
		{"another committed since", []*repo.Snapshot{a1, b1}, a1, true},
		{"head started empty, now there is one", []*repo.Snapshot{b1}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := &Head{log: slog.New(slog.NewTextHandler(&log, nil))}
			h.reportFork(tc.snaps, tc.base)
			if got := strings.Contains(log.String(), "histories fork"); got != tc.fork {
				t.Errorf("reported a fork: %v, want %v (log %q)", got, tc.fork, log.String())
			}
		})
	}
}
