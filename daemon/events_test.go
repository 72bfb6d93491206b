package daemon

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/repo"
)

// recordingEvents keeps the events it hears, in order.
type recordingEvents struct {
	mu  sync.Mutex
	got []string
}

func (e *recordingEvents) add(s string) { e.mu.Lock(); e.got = append(e.got, s); e.mu.Unlock() }
func (e *recordingEvents) Mounted(_ context.Context, base string) {
	e.add("mounted" + strings.TrimSuffix(" on "+base, " on "))
}
func (e *recordingEvents) Committed(_ context.Context, s *repo.Snapshot) {
	e.add("committed " + s.ID)
}
func (e *recordingEvents) Unmounted(_ context.Context, committed bool) {
	if committed {
		e.add("unmounted")
	} else {
		e.add("unmounted uncommitted")
	}
}
func (e *recordingEvents) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.got, ", ")
}

// TestEventsHearMountCommitUnmount: the audit hook hears the mount, each
// commit right after it, and the unmount before `coffer umount` has its
// reply.
func TestEventsHearMountCommitUnmount(t *testing.T) {
	f := newFixture(t, time.Second)
	ev := &recordingEvents{}
	f.cfg.Events = ev
	f.d = New(f.cfg)
	done := f.run(context.Background())
	f.h.closeAfter(0)
	if r := call(t, f, "snapshot"); r.Error != "" {
		t.Fatalf("snapshot = %+v", r)
	}
	f.h.mu.Lock()
	f.h.changed = true
	f.h.mu.Unlock()
	if r := call(t, f, "umount"); r.Error != "" {
		t.Fatalf("umount = %+v", r)
	}
	if got, want := ev.String(), "mounted, committed s1, committed s1, unmounted"; !strings.HasPrefix(got, want) {
		t.Fatalf("events at the umount reply = %q, want %q", got, want)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}
