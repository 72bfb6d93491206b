package prune

import (
	"testing"
	"time"

	"coffer/audit"
)

func TestSessionsFromTheAuditLog(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	mount := func(src string, h int, base string) audit.Record {
		r := audit.Record{Kind: audit.KindMount, Mode: "read-write", Source: src, Host: "h-" + src, Time: at(h)}
		if base != "" {
			r.Snapshots = []string{base}
		}
		return r
	}
	commit := func(src string, h int, id string) audit.Record {
		return audit.Record{Kind: audit.KindCommit, Source: src, Time: at(h), Snapshot: &audit.Commit{ID: id, Time: at(h)}}
	}
	unmount := func(src string, h int, note string) audit.Record {
		return audit.Record{Kind: audit.KindUnmount, Mode: "read-write", Source: src, Time: at(h), Note: note}
	}
	guess := -commitStartGuess
	for _, tc := range []struct {
		name   string
		recs   []audit.Record
		window time.Time // zero: no open session
		base   string
	}{
		{"never mounted", nil, time.Time{}, ""},
		{"mounted, never committed: from the first mount",
			[]audit.Record{mount("a", 1, ""), unmount("a", 2, NotCommitted+": x"), mount("a", 3, "s0")}, at(1), "s0"},
		{"committed since: the commit's start and snapshot",
			[]audit.Record{mount("a", 1, "s0"), commit("a", 2, "s1"), commit("a", 4, "s2")}, at(4).Add(guess), "s2"},
		{"cleanly unmounted: closed", []audit.Record{mount("a", 1, "s0"), commit("a", 2, "s1"), unmount("a", 3, "")}, time.Time{}, ""},
		{"unmounted without its final commit: open",
			[]audit.Record{mount("a", 1, "s0"), commit("a", 2, "s1"), unmount("a", 3, NotCommitted)}, at(2).Add(guess), "s1"},
		{"a commit before the mount sets the window, the mount the base",
			[]audit.Record{mount("a", 1, ""), commit("a", 2, "s1"), unmount("a", 3, ""), mount("a", 5, "s1")}, at(2).Add(guess), "s1"},
		{"a repaired commit is no base",
			[]audit.Record{mount("a", 5, "s9"), {Kind: audit.KindCommit, Source: "a", Time: at(5), Repaired: true, Snapshot: &audit.Commit{ID: "s8", Time: at(3)}}},
			at(3).Add(guess), "s9"},
		{"a commit record's start is the window",
			[]audit.Record{mount("a", 1, "s0"), {Kind: audit.KindCommit, Source: "a", Time: at(6), Snapshot: &audit.Commit{ID: "s1", Time: at(6), Started: at(5)}}},
			at(5), "s1"},
		{"read-only mounts are no session", []audit.Record{{Kind: audit.KindMount, Mode: "read-only", Source: "a", Time: at(1)}}, time.Time{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Sessions(tc.recs)
			if tc.window.IsZero() {
				if len(got) != 0 {
					t.Fatalf("sessions %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || !got[0].Window.Equal(tc.window) || got[0].Base != tc.base {
				t.Fatalf("sessions %+v, want window %v base %q", got, tc.window, tc.base)
			}
		})
	}
	// Two sources: the cutoff is the earlier window, less the slack.
	got := Sessions([]audit.Record{mount("a", 1, ""), mount("b", 3, "")})
	if cut := packCutoff(got, time.Hour); len(got) != 2 || !cut.Equal(at(1).Add(-packSlack)) {
		t.Fatalf("sessions %+v cutoff %v", got, cut)
	}
	if cut := packCutoff(got, 5*time.Second); !cut.Equal(at(1).Add(-5 * time.Second)) {
		t.Fatalf("cutoff %v with a 5 s margin, want the window less 5 s", cut)
	}
}
