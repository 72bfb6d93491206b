package fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cfs "coffer/fs"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/repo"
)

// smallTree writes, through a head mount, a tree of small files (one
// block each) the way a source tree looks: a directory of files with
// subdirectories of their own, and commits it. It returns the snapshot
// and every file's contents by path.
func smallTree(t *testing.T, s *testStore) (*repo.Snapshot, map[string][]byte) {
	t.Helper()
	m := s.mountHead(t, cfs.HeadOptions{})
	files := map[string][]byte{}
	put := func(rel string, n int) {
		data := randBytes(n)
		writeFile(t, m.path(rel), data, 0o644)
		files[rel] = data
	}
	must(t, os.Mkdir(m.path("src"), 0o755))
	for i := range 120 {
		put(fmt.Sprintf("src/f%03d.go", i), 1000+37*i)
	}
	for d := range 4 {
		dir := fmt.Sprintf("src/pkg%d", d)
		must(t, os.Mkdir(m.path(dir), 0o755))
		for i := range 80 {
			put(fmt.Sprintf("%s/g%02d.go", dir, i), 2000+11*i)
		}
	}
	snap, _ := m.commit()
	m.unmount()
	return snap, files
}

// slowStore gives each ranged read a round trip's latency, as S3 has:
// without it the reader, at memory speed, races the read-ahead.
// It counts the bytes read in ranges.
type slowStore struct {
	*faulty.Store
	read *atomic.Int64
}

const roundTrip = 2 * time.Millisecond

func (s slowStore) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	time.Sleep(roundTrip)
	s.read.Add(length)
	return s.Store.GetRange(ctx, key, off, length)
}

func (s slowStore) GetVersionRange(ctx context.Context, key, vid string, off, length int64) ([]byte, error) {
	time.Sleep(roundTrip)
	s.read.Add(length)
	return s.Store.GetVersionRange(ctx, key, vid, off, length)
}

// mountSnapshotOver mounts snap read-only from a repository opened over
// st (with a round trip's latency), as `coffer mount --snapshot` would,
// and returns it with the count of bytes read in ranges.
func (s *testStore) mountSnapshotOver(t *testing.T, st *faulty.Store, snap *repo.Snapshot, o repo.Options) (*mount, *atomic.Int64) {
	t.Helper()
	o.PackSize, o.Logger = 256<<10, testLogger()
	read := new(atomic.Int64)
	r, err := repo.Open(context.Background(), slowStore{st, read}, s.secret, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	hour := time.Hour
	return serve(t, r, nil, cfs.NewSnapshotRoot(r, testLogger(), snap), &hour, true), read
}

// copyOut reads every file under dir depth first by name, as cp -a
// does, and returns each file's bytes or error by path relative to dir.
func copyOut(t *testing.T, dir string) (map[string][]byte, map[string]error) {
	t.Helper()
	got, errs := map[string][]byte{}, map[string]error{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			if b, err := os.ReadFile(p); err != nil {
				errs[rel] = err
			} else {
				got[rel] = b
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, errs
}

// ranged counts the ranged reads st has seen.
func ranged(st *faulty.Store) int {
	return st.Calls(faulty.GetRange) + st.Calls(faulty.GetVersionRange)
}

// packs lists the pack objects in st.
func packs(t *testing.T, st objectstore.Store) []string {
	t.Helper()
	var keys []string
	must(t, st.List(context.Background(), "data/", func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	}))
	return keys
}

// TestInprocSnapshotReadAhead: copying a fresh snapshot mount's small
// files costs a ranged GET per neighbourhood of a pack, not one per file:
// listing a directory fetches the blocks of the files below it together.
func TestInprocSnapshotReadAhead(t *testing.T) {
	s := newTestStore(t)
	snap, files := smallTree(t, s)
	st := faulty.New(s.st)
	m, _ := s.mountSnapshotOver(t, st, snap, repo.Options{})
	before := ranged(st)
	got, errs := copyOut(t, m.dir)
	if len(errs) != 0 {
		t.Fatalf("read errors: %v", errs)
	}
	if len(got) != len(files) {
		t.Fatalf("read %d files, want %d", len(got), len(files))
	}
	for rel, data := range files {
		if !bytes.Equal(got[rel], data) {
			t.Fatalf("%s differs", rel)
		}
	}
	// A snapshot mount answers flush with ENOSYS, so the kernel stops
	// sending it; close still succeeds, the first time and after.
	for range 2 {
		f, err := os.Open(m.path("src/f000.go"))
		must(t, err)
		must(t, f.Close())
	}
	n := ranged(st) - before
	t.Logf("%d ranged GETs for %d files in %d packs", n, len(files), len(packs(t, s.st)))
	// A GET per file would be 440, plus the trees. Each pack is read in
	// a few spans (the files, then the trees), and the reader may beat
	// the walk to a few files; far fewer than one per file either way.
	if limit := len(files) / 5; n > limit {
		t.Fatalf("%d ranged GETs for %d small files, want at most %d", n, len(files), limit)
	}
}

// TestInprocSnapshotReadAheadDamage: a damaged block fails only its own
// file (EIO); its neighbours, fetched in the same ranged GET, read back
// whole, and the walk goes on past it.
func TestInprocSnapshotReadAheadDamage(t *testing.T) {
	s := newTestStore(t)
	snap, files := smallTree(t, s)
	// The first pack holds the first files written (trees are written
	// at the commit, after them): flip a byte in its middle, inside one
	// file's sealed block, as bit rot would.
	keys := packs(t, s.st)
	slices.Sort(keys)
	var first string
	var firstAt time.Time
	for _, k := range keys {
		info, err := s.st.Head(context.Background(), k)
		must(t, err)
		if first == "" || info.Modified.Before(firstAt) {
			first, firstAt = k, info.Modified
		}
	}
	data, err := s.st.Get(context.Background(), first)
	must(t, err)
	data[len(data)/3] ^= 0x10
	must(t, s.st.Delete(context.Background(), first))
	_, err = s.st.Put(context.Background(), first, data, objectstore.Retention{})
	must(t, err)

	st := faulty.New(s.st)
	m, _ := s.mountSnapshotOver(t, st, snap, repo.Options{})
	got, errs := copyOut(t, m.dir)
	if len(errs) != 1 {
		t.Fatalf("%d files failed (%v), want exactly the damaged one", len(errs), errs)
	}
	for rel, err := range errs {
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("%s: %v, want EIO", rel, err)
		}
		if !strings.HasPrefix(rel, "src/f") {
			t.Fatalf("%s failed: the damage was not in the first files", rel)
		}
	}
	for rel, data := range files {
		if _, bad := errs[rel]; !bad && !bytes.Equal(got[rel], data) {
			t.Fatalf("%s differs", rel)
		}
	}
}

// TestInprocSnapshotReadAheadWaitsForReads: listing a snapshot (ls -R,
// find, du) fetches its trees but no file data: the walk waits for a
// file to be opened.
func TestInprocSnapshotReadAheadWaitsForReads(t *testing.T) {
	s := newTestStore(t)
	snap, files := smallTree(t, s)
	var total int64
	for _, data := range files {
		total += int64(len(data))
	}
	m, read := s.mountSnapshotOver(t, faulty.New(s.st), snap, repo.Options{})
	must(t, filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error { return err }))
	time.Sleep(300 * time.Millisecond) // a walk that did not wait would fetch now
	// The trees (each read twice: the listing's prefetch and the walk's
	// race) come to about 0.2 MB, the files to 1.1 MB.
	if n := read.Load(); n > total/2 {
		t.Fatalf("listing read %d bytes of a snapshot of %d bytes of files: file data was fetched without a read", n, total)
	}
}

// TestInprocSnapshotReadAheadFollowsReader: a reader copying one
// directory below a listing the walk started from (which would fetch
// other files first) moves the walk to that directory, so most of its
// files still come in one GET.
func TestInprocSnapshotReadAheadFollowsReader(t *testing.T) {
	s := newTestStore(t)
	snap, files := smallTree(t, s)
	st := faulty.New(s.st)
	// A small cache: the walk from the top stays 256 KiB ahead, far
	// from src/pkg3 until its reader moves it.
	m, _ := s.mountSnapshotOver(t, st, snap, repo.Options{CacheBytes: 1 << 20})
	_, err := os.ReadDir(m.path("src"))
	must(t, err)
	before := ranged(st)
	got, errs := copyOut(t, m.path("src/pkg3"))
	if len(errs) != 0 {
		t.Fatalf("read errors: %v", errs)
	}
	for rel, data := range got {
		if !bytes.Equal(data, files["src/pkg3/"+rel]) {
			t.Fatalf("%s differs", rel)
		}
	}
	n := ranged(st) - before
	t.Logf("%d ranged GETs for %d files", n, len(got))
	// One GET each for the files read before the walk moves (16) and
	// those the reader opens before the moved walk's first batch lands, a
	// few for the rest and the walk from the top; 80 without the move.
	if n > 50 {
		t.Fatalf("%d ranged GETs for %d files of one directory, want at most 50", n, len(got))
	}
}
