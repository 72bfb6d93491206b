package repo

import (
	"context"

	"coffer/audit"
)

// AuditLog returns the repository's audit log, as written by the server
// whose source ID is source, on host, running coffer version. Records are
// locked for audit.LockFor the repository's retention. Keep one Log per
// process: it remembers the log's tail, so an append costs one request.
func (r *Repository) AuditLog(source, host, version string) *audit.Log {
	return audit.New(audit.Config{
		Store: r.store, Keys: r.keys, RepoID: r.id,
		Source: source, Host: host, Version: version,
		Lock:   audit.LockFor(r.params.Retention.Mode, r.params.Retention.Period()),
		Logger: r.log,
		Snapshots: func(ctx context.Context) ([]string, error) {
			snaps, err := r.Snapshots(ctx)
			ids := make([]string, len(snaps))
			for i, s := range snaps {
				ids[i] = s.ID
			}
			return ids, err
		},
	})
}

// AuditCommit describes snapshot s for its commit record; objects and
// newBytes are what writing it cost the store.
func AuditCommit(s *Snapshot, objects, newBytes int64) audit.Commit {
	return audit.Commit{ID: s.ID, Parent: s.Parent, Time: s.Time, Files: s.Files, Bytes: s.Size,
		Objects: objects, New: newBytes}
}
