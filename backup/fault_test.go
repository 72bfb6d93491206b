package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"coffer/backup"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/repo"
)

func faultyRepo(t *testing.T) (*repo.Repository, *faulty.Store) {
	t.Helper()
	var f *faulty.Store
	r := repoOver(t, func(st objectstore.Store) objectstore.Store { f = faulty.New(st); return f })
	return r, f
}

// TestBackupStoreFails: a pack upload that fails once is retried and the
// snapshot is complete; a store that keeps failing ends the backup with
// an error and no snapshot, and the next backup, with the store back,
// makes a good one.
func TestBackupStoreFails(t *testing.T) {
	ctx := context.Background()
	src, size := sourceTree(t)
	r, f := faultyRepo(t)
	once := f.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Prefix: "data/", Times: 1})
	sum, err := backup.Run(ctx, r, []string{src}, backup.Options{Host: "h"})
	if err != nil || once.Hits() != 1 {
		t.Fatalf("backup with one failed pack upload: %v (hits %d)", err, once.Hits())
	}
	big, err := r.LookupPath(ctx, sum.Snapshot, "/big")
	if err != nil || int64(len(readBack(t, r, big))) != 700<<10 {
		t.Fatalf("/big after a retried upload: %+v %v", big, err)
	}

	r2, f2 := faultyRepo(t)
	f2.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put}, Prefix: "data/"})
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := backup.Run(short, r2, []string{src}, backup.Options{Host: "h"}); err == nil {
		t.Fatal("backup onto a store refusing every pack succeeded")
	}
	if snaps, err := r2.Snapshots(ctx); err != nil || len(snaps) != 0 {
		t.Fatalf("after a failed backup: snapshots %v (%v); want none", snaps, err)
	}
	f2.Clear()
	sum, err = backup.Run(ctx, r2, []string{src}, backup.Options{Host: "h"})
	if err != nil || sum.BytesRead != size+int64(len("excluded")) { // skip.log too: no --exclude here
		t.Fatalf("backup once the store is back: %+v %v", sum, err)
	}
}

// TestBackupFileVanishes: a file removed between the walk and its read is
// reported and left out; the snapshot holds the rest, and Run says it is
// incomplete.
func TestBackupFileVanishes(t *testing.T) {
	ctx := context.Background()
	src, _ := sourceTree(t)
	r, _ := newRepo(t)
	var reported []string
	sum, err := backup.Run(ctx, r, []string{src}, backup.Options{Host: "h",
		Planned: func(int64, int64) { must(t, os.Remove(filepath.Join(src, "big"))) },
		OnError: func(p string, err error) { reported = append(reported, p) }})
	if !errors.Is(err, backup.ErrIncomplete) || sum == nil || sum.Errors != 1 || len(reported) != 1 || reported[0] != filepath.Join(src, "big") {
		t.Fatalf("backup with a vanished file: %v, %+v, reported %v", err, sum, reported)
	}
	if _, err := r.LookupPath(ctx, sum.Snapshot, "/big"); err == nil {
		t.Error("the vanished file is in the snapshot")
	}
	if n, err := r.LookupPath(ctx, sum.Snapshot, "/a/b/small"); err != nil || string(readBack(t, r, n)) != "hello" {
		t.Errorf("/a/b/small: %+v %v", n, err)
	}
}
