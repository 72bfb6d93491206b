package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"coffer/audit"
	"coffer/daemon"
	"coffer/localstate"
	"coffer/repo"
)

// auditTimeout bounds how long a mount's audit record may hold the mount
// up when the store is failing.
const auditTimeout = time.Minute

// auditEvents records a mount's life in the audit log.
type auditEvents struct {
	r       *repo.Repository
	log     *audit.Log
	counter *audit.Counter
	mode    string // "read-write" or "read-only"
	logger  *slog.Logger
	once    sync.Once     // the unmount is recorded once
	mounted chan struct{} // closed once Mounted is done, repairs included
}

var _ daemon.Events = (*auditEvents)(nil)

// newAuditEvents records the mount of r (read-only with --snapshot).
func (f *mountFlags) newAuditEvents(r *repo.Repository, counter *audit.Counter, state *localstate.Dir, log *slog.Logger) *auditEvents {
	mode := "read-write"
	if f.snapshot != "" {
		mode = "read-only"
	}
	return &auditEvents{r: r, log: f.auditLog(r, state, log), counter: counter, mode: mode, logger: log,
		mounted: make(chan struct{})}
}

// Mounted records the mount, naming a read-write head's base snapshot
// (prune keeps it while the session is open), and, on a read-write
// mount, writes the commit records a crash left out of this host's
// snapshots.
func (e *auditEvents) Mounted(ctx context.Context, base string) {
	defer close(e.mounted)
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	rec := audit.Record{Kind: audit.KindMount, Mode: e.mode}
	if base != "" {
		rec.Snapshots = []string{base}
	}
	if _, err := e.log.Append(ctx, rec); err != nil {
		e.logger.Error("audit: the mount record was not written", "err", err)
		return
	}
	if e.mode != "read-write" {
		return
	}
	snaps, err := e.r.Snapshots(ctx)
	if err != nil {
		e.logger.Warn("audit: snapshots not listed; missing commit records not repaired", "err", err)
		return
	}
	host, _ := os.Hostname() // the head's snapshots carry it
	var commits []audit.Commit
	for _, s := range snaps {
		if s.Host == host {
			commits = append(commits, repo.AuditCommit(s, 0, 0))
		}
	}
	n, err := e.log.Repair(ctx, commits)
	if n > 0 {
		e.logger.Warn("audit: wrote commit records a crash had left out, marked repaired", "records", n)
	}
	if err != nil {
		e.logger.Error("audit: missing commit records not repaired", "err", err)
	}
}

// Committed records snapshot s, with what the store received since the
// previous commit, and the retention extension made before it, if any.
func (e *auditEvents) Committed(ctx context.Context, s *repo.Snapshot) {
	objects, bytes := e.counter.Take()
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	c := repo.AuditCommit(s, objects, bytes)
	c.Started = s.Started
	if _, err := e.log.Append(ctx, audit.Record{Kind: audit.KindCommit, Snapshot: &c}); err != nil {
		e.logger.Error("audit: the commit record was not written (the next mount writes it)", "snapshot", s.ID, "err", err)
	}
	if st := e.r.LastRetention(); st.Extended > 0 {
		ext := audit.Extension{Objects: st.Extended, Through: st.Until}
		if _, err := e.log.Append(ctx, audit.Record{Kind: audit.KindRetention, Retention: &ext}); err != nil {
			e.logger.Error("audit: the retention record was not written", "objects", st.Extended, "through", st.Until, "err", err)
		}
	}
}

// Unmounted records the unmount, once, after the mount's own records: a
// `coffer umount` can arrive while Mounted still writes its repairs. A
// mount whose final commit failed writes no unmount record: its session
// stays open in the log, so prune goes on sparing what it relies on
// until the next mount (which resumes the checkpoint) commits.
func (e *auditEvents) Unmounted(ctx context.Context, committed bool) {
	e.once.Do(func() {
		if !committed {
			e.logger.Error("audit: no unmount record, since the final commit failed: prune treats this mount as still running until the next mount here commits")
			return
		}
		select {
		case <-e.mounted:
		case <-time.After(auditTimeout):
		}
		ctx, cancel := context.WithTimeout(ctx, auditTimeout)
		defer cancel()
		if _, err := e.log.Append(ctx, audit.Record{Kind: audit.KindUnmount, Mode: e.mode}); err != nil {
			e.logger.Error("audit: the unmount record was not written", "err", err)
		}
	})
}
