package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/daemon"
	"coffer/fs"
	"coffer/objectstore"
	"coffer/objectstore/memory"
	"coffer/repo"
)

// dataPacks returns every pack in the store.
func dataPacks(t *testing.T, st *memory.Store) []repo.PackID {
	t.Helper()
	var out []repo.PackID
	must(t, st.List(context.Background(), "data/", func(i objectstore.Info) error {
		var p repo.PackID
		if b, err := hex.DecodeString(path.Base(i.Key)); err == nil && len(b) == len(p) {
			copy(p[:], b)
			out = append(out, p)
		}
		return nil
	}))
	return out
}

// countIndexes counts the index objects in the store.
func countIndexes(t *testing.T, st *memory.Store) int {
	t.Helper()
	n := 0
	must(t, st.List(context.Background(), "index/", func(objectstore.Info) error { n++; return nil }))
	return n
}

// deleteAll deletes every version of key, as prune does.
func deleteAll(t *testing.T, st *memory.Store, key string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	must(t, st.ListVersions(ctx, key, func(v objectstore.Version) error { ids = append(ids, v.VersionID); return nil }))
	for _, v := range ids {
		must(t, st.DeleteVersion(ctx, key, v))
	}
}

// TestInprocDaemonKeepsAnOpenFileFromAPrune: a file still open for
// writing across a commit was deduplicated against the packs of an old
// snapshot; a prune plans that snapshot and those packs away. The
// daemon's timer reads the plan and writes the blocks again, so once the
// packs are deleted and the file is closed, the next snapshot reads back
// whole.
func TestInprocDaemonKeepsAnOpenFileFromAPrune(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := &testStore{st: memory.New(time.Now), secret: repo.Secret{KeyFile: key}}
	_, err := repo.Init(ctx, s.st, s.secret, repo.InitOptions{
		Chunker:  chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Deletion: repo.NewDeletionSettings(time.Minute, 2*time.Second, true), // refresh every second
		Now:      time.Now(),
	})
	must(t, err)

	content := randBytes(600 << 10)
	first := s.mountHead(t, fs.HeadOptions{})
	writeFile(t, first.path("a"), content, 0o644)
	old, _ := first.commit()
	first.unmount()
	oldPacks := dataPacks(t, s.st)

	m := s.mountHead(t, fs.HeadOptions{})
	runDir := t.TempDir()
	d := daemon.New(daemon.Config{Mountpoint: m.dir, RunDir: runDir, Server: m.srv, Head: m.h, Guard: m.r,
		StopTimeout: 5 * time.Second, Log: testLogger()})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	control := func(op string) daemon.Reply {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			r, err := daemon.Call(ctx, daemon.SocketPath(runDir, m.dir), daemon.Request{Op: op})
			if err == nil {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("control %s: %v", op, err)
			}
		}
	}

	// The same bytes again, in a file kept open across a commit, and the
	// old name removed: only this mount relies on the old packs now.
	f, err := os.Create(m.path("b"))
	must(t, err)
	t.Cleanup(func() { f.Close() }) // before the unmount: a file left open would hang it
	_, err = f.Write(content)
	must(t, err)
	must(t, os.Remove(m.path("a")))
	if r := control("snapshot"); r.Error != "" {
		t.Fatalf("snapshot: %s", r.Error)
	}

	before := countIndexes(t, s.st)
	prune := s.open(t)
	plan := &repo.PrunePlan{Snapshots: []string{old.ID}, Packs: oldPacks}
	must(t, prune.PutPrunePlan(ctx, repo.Author{Source: "admin"}, plan))
	// The timer's refresh moves the blocks: a new index object says so.
	// (Past the deadline the test goes on: the read back then fails.)
	for deadline := time.Now().Add(5 * time.Second); countIndexes(t, s.st) == before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	deleteAll(t, s.st, "snapshots/"+old.ID)
	for _, p := range oldPacks {
		deleteAll(t, s.st, "data/"+p.String()[:2]+"/"+p.String())
	}

	must(t, f.Close())
	r := control("snapshot")
	if r.Error != "" {
		t.Fatalf("snapshot: %s", r.Error)
	}
	if r := control("umount"); r.Error != "" {
		t.Fatalf("umount: %s", r.Error)
	}
	must(t, <-done)
	m.srv = nil // unmounted by the daemon

	reader := s.open(t)
	snap, err := reader.LoadSnapshot(ctx, r.ID)
	must(t, err)
	tree, err := reader.LoadTree(ctx, snap.Tree)
	must(t, err)
	for _, n := range tree.Nodes {
		if n.Name != "b" {
			continue
		}
		fr := reader.NewFileReader(n.Blocks)
		got := make([]byte, fr.Size())
		if _, err := fr.ReadAt(ctx, got, 0); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("b reads back %d bytes (%v), not what was written", len(got), err)
		}
		return
	}
	t.Fatal("the snapshot has no b")
}
