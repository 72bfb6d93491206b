package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"

	"coffer/fs"
)

// writeOutOfOrder writes data to f in pieces, in a shuffled order, as
// tools that seek back to patch a header do; holes are left for last.
func writeOutOfOrder(f *os.File, data []byte, piece int, rng *rand.Rand) error {
	var offs []int
	for off := 0; off < len(data); off += piece {
		offs = append(offs, off)
	}
	rng.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	for _, off := range offs {
		end := min(off+piece, len(data))
		if bytes.Count(data[off:end], []byte{0}) == end-off {
			continue // a hole: never written, reads as zeros
		}
		if _, err := f.WriteAt(data[off:end], int64(off)); err != nil {
			return fmt.Errorf("pwrite at %d: %w", off, err)
		}
	}
	return nil
}

// TestInprocOutOfOrderWrites writes a new file at shuffled offsets with a
// hole, reads it back through the open descriptor, and finds the same
// bytes after close and in the snapshot.
func TestInprocOutOfOrderWrites(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	rng := rand.New(rand.NewPCG(1, 2))
	data := randBytes(1200 << 10)
	clear(data[100<<10 : 300<<10]) // a hole
	f, err := os.OpenFile(m.path("dump"), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeOutOfOrder(f, data, 37<<10, rng); err != nil {
		t.Fatal(err)
	}
	header := []byte("PGDMP patched header")
	if _, err := f.WriteAt(header, 0); err != nil { // seek back, as pg_dump -Fc does
		t.Fatal(err)
	}
	copy(data, header)
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatalf("read back while open: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Error("bytes read through the open descriptor differ from those written")
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !bytes.Equal(readFile(t, m.path("dump")), data) {
		t.Error("bytes differ after close")
	}
	_, name := m.commit()
	if !bytes.Equal(readFile(t, m.snapPath(name, "dump")), data) {
		t.Error("bytes differ in the snapshot")
	}
}

// TestInprocWriteOnce checks that a finished file's bytes never change:
// writing, appending or truncating it is EPERM; O_TRUNC replaces it with a
// new file while earlier snapshots keep the old bytes.
func TestInprocWriteOnce(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	old := []byte("finished bytes")
	writeFile(t, m.path("f"), old, 0o644)
	_, first := m.commit()

	for _, flags := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND} {
		// Opening may be refused at once, or allowed with every change
		// refused: the promise is about bytes, not open flags.
		f, err := os.OpenFile(m.path("f"), flags, 0)
		if err != nil {
			wantErrno(t, fmt.Sprintf("open %#x", flags), err, syscall.EPERM)
			continue
		}
		_, werr := f.Write([]byte("x"))
		wantErrno(t, fmt.Sprintf("write after open %#x", flags), werr, syscall.EPERM)
		wantErrno(t, fmt.Sprintf("ftruncate after open %#x", flags), f.Truncate(1), syscall.EPERM)
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	wantErrno(t, "truncate to 3", os.Truncate(m.path("f"), 3), syscall.EPERM)
	if err := os.Truncate(m.path("f"), int64(len(old))); err != nil {
		t.Errorf("truncate to the same size: %v", err)
	}
	if got := readFile(t, m.path("f")); !bytes.Equal(got, old) {
		t.Fatalf("a finished file changed: %q", got)
	}
	writeFile(t, m.path("f"), []byte("new"), 0o644) // O_TRUNC: a new file
	if err := os.Truncate(m.path("f"), 0); err != nil {
		t.Errorf("truncate to 0: %v", err)
	}
	writeFile(t, m.path("f"), []byte("newer"), 0o644)
	_, second := m.commit()
	for _, c := range []struct{ path, want string }{
		{m.path("f"), "newer"},
		{m.snapPath(second, "f"), "newer"},
		{m.snapPath(first, "f"), string(old)},
	} {
		if got := string(readFile(t, c.path)); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
}

// TestInprocOpenFileLeftOut commits while a file is open for writing: the
// snapshot leaves it out, the head stays changed, and the next commit
// after close holds all of it.
func TestInprocOpenFileLeftOut(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	writeFile(t, m.path("closed"), []byte("closed"), 0o644)
	f, err := os.Create(m.path("open"))
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(500 << 10)
	if _, err := f.Write(data[:200<<10]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	_, first := m.commit()
	if _, err := os.Lstat(m.snapPath(first, "open")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file open for writing is in the snapshot: %v", err)
	}
	if got := readFile(t, m.snapPath(first, "closed")); string(got) != "closed" {
		t.Errorf("closed file in the snapshot: %q", got)
	}
	if !m.h.Changed() {
		t.Error("the head says unchanged while a file left out is still open")
	}
	if _, err := f.Write(data[200<<10:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, second := m.commit()
	if got := readFile(t, m.snapPath(second, "open")); !bytes.Equal(got, data) {
		t.Errorf("the file closed since: %d bytes in the snapshot, want %d", len(got), len(data))
	}
}

// TestInprocWritersDuringCommits has several goroutines write files at
// shuffled offsets while commits run: every file closed before a commit
// began is in its snapshot with all its bytes, and no snapshot holds a
// partial file.
func TestInprocWritersDuringCommits(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	const writers, perWriter = 4, 12
	var mu sync.Mutex
	contents := map[string][]byte{} // guarded by mu; files closed so far
	var wg sync.WaitGroup
	for w := range writers {
		if err := os.Mkdir(m.path(fmt.Sprint("w", w)), 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWriter {
				rel := fmt.Sprintf("w%d/f%d", w, i)
				if i%3 == 2 {
					rel = fmt.Sprintf("shared-w%d-f%d", w, i) // in the root, beside other writers'
				}
				data := randBytes(rng.IntN(300 << 10))
				f, err := os.OpenFile(m.path(rel), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				if err := writeOutOfOrder(f, data, 20<<10, rng); err != nil {
					t.Error(err)
				}
				if err := f.Close(); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				contents[rel] = data
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	check := func(name string, closed map[string][]byte) {
		t.Helper()
		for rel, data := range closed {
			got, err := os.ReadFile(m.snapPath(name, rel))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("snapshot %s: %s closed before the commit: %d bytes, err %v; want %d", name, rel, len(got), err, len(data))
			}
		}
		for rel, e := range scan(t, m.snapPath(name)) {
			if e.mode&syscall.S_IFMT != syscall.S_IFREG {
				continue
			}
			mu.Lock()
			data, ok := contents[rel]
			mu.Unlock()
			if !ok || e.size != int64(len(data)) {
				t.Errorf("snapshot %s holds %s with %d bytes, of a file not finished", name, rel, e.size)
			}
		}
	}
	commits := 0
	for running := true; running; commits++ {
		select {
		case <-done:
			running = false
		default:
		}
		mu.Lock()
		closed := make(map[string][]byte, len(contents))
		for k, v := range contents {
			closed[k] = v
		}
		mu.Unlock()
		_, name := m.commit()
		check(name, closed)
		if t.Failed() {
			break
		}
	}
	<-done
	_, name := m.commit()
	check(name, contents)
	if len(contents) != writers*perWriter {
		t.Errorf("%d files written, want %d", len(contents), writers*perWriter)
	}
	t.Logf("%d commits while writing", commits)
}
