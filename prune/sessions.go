package prune

import (
	"strings"
	"time"

	"coffer/audit"
)

// Session is a read-write mount that has not ended with a committed
// unmount, as the audit log tells it: a running daemon, or a crashed one
// whose checkpoint the next mount resumes. Prune honours both.
type Session struct {
	Source  string    `json:"source"`  // the writer's source ID (its host name if it has none)
	Host    string    `json:"host"`    //
	Mounted time.Time `json:"mounted"` // the store's time of its latest mount record
	// Window is where the session's unreferenced writes may begin: the
	// start of the source's latest commit, or its first mount if it never
	// committed. No pack uploaded after Window less packSlack (or the
	// margin, if shorter) is planned or deleted while the session is open.
	Window time.Time `json:"window"`
	// Base is the snapshot the head builds on: the session's latest
	// commit since its mount, else the snapshot its mount record names
	// ("" if neither says). It is never removed while the session is open.
	Base string `json:"base"`
}

// NotCommitted is the text an unmount record's note starts with when the
// final commit did not succeed: the session then stays open, since the
// next mount resumes its checkpoint.
const NotCommitted = "not committed"

// Sessions reads the open sessions from the audit records, in order.
func Sessions(records []audit.Record) []Session {
	type state struct {
		s          Session
		open       bool
		lastCommit time.Time // the start of the source's latest commit
		firstMount time.Time
	}
	bySource := map[string]*state{}
	var order []string
	get := func(rec audit.Record) *state {
		src := rec.Source
		if src == "" {
			src = rec.Host
		}
		st, ok := bySource[src]
		if !ok {
			st = &state{s: Session{Source: src}}
			bySource[src] = st
			order = append(order, src)
		}
		return st
	}
	for _, rec := range records {
		switch rec.Kind {
		case audit.KindMount:
			if rec.Mode != "read-write" {
				continue
			}
			st := get(rec)
			if st.firstMount.IsZero() {
				st.firstMount = rec.Time
			}
			st.open = true
			st.s.Host, st.s.Mounted, st.s.Base = rec.Host, rec.Time, ""
			if len(rec.Snapshots) > 0 {
				st.s.Base = rec.Snapshots[0]
			}
		case audit.KindCommit:
			if rec.Snapshot == nil {
				continue
			}
			st := get(rec)
			if start := commitStart(rec); start.After(st.lastCommit) {
				st.lastCommit = start
			}
			// A repaired record, written at a mount for a commit a crash
			// left unrecorded, says nothing of what this head builds on.
			if st.open && !rec.Repaired {
				st.s.Base = rec.Snapshot.ID
			}
		case audit.KindUnmount:
			if rec.Mode == "read-write" && !strings.HasPrefix(rec.Note, NotCommitted) {
				get(rec).open = false
			}
		}
	}
	var out []Session
	for _, src := range order {
		st := bySource[src]
		if !st.open {
			continue
		}
		st.s.Window = st.lastCommit
		if st.s.Window.IsZero() {
			st.s.Window = st.firstMount
		}
		out = append(out, st.s)
	}
	return out
}

// commitStart is when the commit rec records began, by the store's clock:
// the record's Started; on a record without it (older ones, repaired
// ones), the earlier of the record's time and the snapshot's own, less
// commitStartGuess (a repaired record is written long after its commit,
// at the next mount).
func commitStart(rec audit.Record) time.Time {
	if !rec.Snapshot.Started.IsZero() {
		return rec.Snapshot.Started
	}
	t := rec.Time
	if s := rec.Snapshot.Time; !s.IsZero() && s.Before(t) {
		t = s
	}
	return t.Add(-commitStartGuess)
}

// packCutoff is the latest upload time of a pack prune may plan or delete
// with sessions open, margin the repository's prune margin; zero if none
// is open. The slack is packSlack, or the margin if shorter: a repository
// with unsafe short margins (tests) takes the clocks to agree as closely.
func packCutoff(sessions []Session, margin time.Duration) time.Time {
	slack := min(packSlack, margin)
	var cut time.Time
	for _, s := range sessions {
		if w := s.Window.Add(-slack); cut.IsZero() || w.Before(cut) {
			cut = w
		}
	}
	return cut
}

// tooNew reports whether a pack uploaded at up is protected by an open
// session.
func tooNew(up, cutoff time.Time) bool { return !cutoff.IsZero() && up.After(cutoff) }
