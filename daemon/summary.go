package daemon

import "time"

// CommitSummary is what one commit did, for `coffer snapshot`'s summary
// line, the service manager's status and the metrics.
type CommitSummary struct {
	ID     string        `json:"id"`
	Time   time.Time     `json:"time"`
	Files  uint64        `json:"files"`  // files in the snapshot
	Bytes  uint64        `json:"bytes"`  // their logical size
	Stored int64         `json:"stored"` // bytes the store received since the previous commit
	Took   time.Duration `json:"took"`   // the commit itself, in ns
}

// CommitObserver hears of each commit with its summary (the metrics).
type CommitObserver interface {
	Committed(c CommitSummary)
}

// summarize describes snapshot s, committed in took, from the store's
// count of bytes received, which it remembers for the next commit.
func (d *Daemon) summarize(id string, t time.Time, files, bytes uint64, took time.Duration) CommitSummary {
	c := CommitSummary{ID: id, Time: t, Files: files, Bytes: bytes, Took: took}
	if d.cfg.Uploaded != nil {
		now := d.cfg.Uploaded()
		c.Stored = now - d.uploadedAt.Swap(now)
	}
	return c
}
