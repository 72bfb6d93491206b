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
		for i := range 25 {
			put(fmt.Sprintf("%s/g%02d.go", dir, i), 2000+11*i)
		}
	}
	snap, _ := m.commit()
	m.unmount()
	return snap, files
}

// mountSnapshotOver mounts snap read-only from a repository opened over
// st, as `coffer mount --snapshot` would.
func (s *testStore) mountSnapshotOver(t *testing.T, st objectstore.Store, snap *repo.Snapshot) *mount {
	t.Helper()
	r, err := repo.Open(context.Background(), st, s.secret, repo.Options{PackSize: 256 << 10, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	hour := time.Hour
	return serve(t, r, nil, cfs.NewSnapshotRoot(r, testLogger(), snap), &hour, true)
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
	m := s.mountSnapshotOver(t, st, snap)
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
	n := ranged(st) - before
	t.Logf("%d ranged GETs for %d files in %d packs", n, len(files), len(packs(t, s.st)))
	// A GET per file would be 220, plus the trees. Each pack is read in
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
	m := s.mountSnapshotOver(t, st, snap)
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
