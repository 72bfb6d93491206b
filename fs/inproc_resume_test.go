package fs_test

import (
	"context"
	"os"
	"testing"

	"coffer/fs"
)

// TestInprocCheckpointResume checkpoints a changed head, drops the daemon
// without a commit, and starts the next one from the checkpoint: the head
// is as it was, and its commit holds every change. A checkpoint made on an
// older snapshot, or one whose trees cannot be read, is ignored.
func TestInprocCheckpointResume(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	must(t, os.MkdirAll(m.path("keep/deep"), 0o755))
	writeFile(t, m.path("keep/deep/a"), randBytes(200<<10), 0o644)
	writeFile(t, m.path("gone"), []byte("to be removed"), 0o644)
	first, _ := m.commit()

	writeFile(t, m.path("keep/new"), randBytes(90<<10), 0o600)
	must(t, os.Rename(m.path("keep/deep"), m.path("moved")))
	must(t, os.Remove(m.path("gone")))
	must(t, os.Link(m.path("keep/new"), m.path("hard")))
	must(t, os.Chmod(m.path("keep"), 0o700))
	must(t, os.Symlink("moved/a", m.path("sl")))
	want := scan(t, m.dir)
	ckpt, err := m.h.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ckpt.Parent != first.ID {
		t.Errorf("checkpoint parent %s, want %s", ckpt.Parent, first.ID)
	}
	// The daemon keeps it sealed on local disk.
	sealed, err := m.r.SealHead(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	m.unmount() // as if killed: no commit

	next := s.open(t)
	resumed, err := next.OpenHead(sealed)
	if err != nil {
		t.Fatal(err)
	}
	m = s.mountHead(t, fs.HeadOptions{Resume: resumed})
	if !m.h.Changed() {
		t.Error("a resumed head says unchanged")
	}
	sameTree(t, "resumed head", scan(t, m.dir), want)
	snap, name := m.commit()
	if snap.Parent != first.ID {
		t.Errorf("snapshot parent %s, want %s", snap.Parent, first.ID)
	}
	sameTree(t, "snapshot of the resumed head", scan(t, m.snapPath(name)), want)
	m.unmount()

	// Now the checkpoint is older than the latest snapshot: ignored.
	m = s.mountHead(t, fs.HeadOptions{Resume: resumed})
	if m.h.Changed() {
		t.Error("a stale checkpoint made the head changed")
	}
	sameTree(t, "head with a stale checkpoint", scan(t, m.dir), want)
	writeFile(t, m.path("after"), []byte("after"), 0o644)
	latest, _ := m.commit()
	m.unmount()

	// A checkpoint on the latest snapshot whose tree is unreadable.
	bad := *resumed
	bad.Parent = latest.ID
	for i := range bad.Tree { // a tree no index knows
		bad.Tree[i] = 0xab
	}
	m = s.mountHead(t, fs.HeadOptions{Resume: &bad})
	if got := string(readFile(t, m.path("after"))); got != "after" {
		t.Errorf("head with an unreadable checkpoint: after = %q", got)
	}
	if m.h.Changed() {
		t.Error("an unreadable checkpoint made the head changed")
	}
	if _, err := next.OpenHead(append(sealed[:len(sealed)-1:len(sealed)-1], sealed[len(sealed)-1]^1)); err == nil {
		t.Error("a damaged sealed checkpoint opened")
	}
}
