package daemon

import (
	"context"

	"coffer/repo"
)

// Events hears of a mount's life, to record it (the audit log). Its
// methods report their own failures (a log line); they never stop the
// mount, since a snapshot already committed stays committed.
type Events interface {
	// Mounted is called once the mount serves and its control socket
	// listens, with the ID of the snapshot a read-write mount's head
	// started from ("" if none, or a read-only mount).
	Mounted(ctx context.Context, base string)
	// Committed is called right after each snapshot is committed.
	Committed(ctx context.Context, s *repo.Snapshot)
	// Unmounted is called when the mount is gone: before `coffer
	// umount` gets its reply, and when Run returns. Only the first call
	// may count. committed is false when the head's last changes are in
	// no snapshot (the final commit failed; a checkpoint keeps them for
	// the next mount).
	Unmounted(ctx context.Context, committed bool)
}
