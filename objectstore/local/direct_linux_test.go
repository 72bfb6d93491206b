package local

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"coffer/objectstore"
)

// TestDirectRefused: when O_DIRECT writes fail (here: data not aligned
// in memory, which the kernel refuses with EINVAL), writeData writes the
// rest through the cache, and the file and the checksum are still right.
func TestDirectRefused(t *testing.T) {
	raw := make([]byte, 64<<10+3*directBlock)
	for i := range raw {
		raw[i] = byte(i*13 + i>>11)
	}
	// Misaligned by one byte where directStart would demand alignment.
	at := int(uintptr(unsafe.Pointer(&raw[0])) % directBlock)
	skip := (headerSize+directBlock-at)%directBlock + 1
	data := raw[skip : skip+40<<10+77]
	lo := directBlock - headerSize
	if directStart(data) != -1 {
		t.Fatal("test data is aligned after all")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "obj"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := objectWriter{f: f, off: headerSize}
	if err := w.writeData(data, lo); err != nil {
		t.Fatalf("writeData: %v", err)
	}
	if want := crc32.Checksum(data, castagnoli); w.sum != want {
		t.Fatalf("checksum %08x, want %08x", w.sum, want)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != headerSize+len(data) || !bytes.Equal(got[headerSize:], data) {
		t.Fatalf("file holds %d bytes, not the %d written after the header", len(got), headerSize+len(data))
	}
}

// TestDirectReads reads ranges around the 4 KiB blocks, at every
// alignment that matters and up to the end of the file, around the page
// cache and through GetRange, and compares them with the bytes stored.
// The test directory is on a disk that takes O_DIRECT (ext4 here), so
// readDirect must succeed: a failure there would silently fall back.
func TestDirectReads(t *testing.T) {
	st, data, f := putObject(t, t.TempDir())
	ctx := context.Background()
	end := int64(len(data))
	for _, off := range []int64{0, 1, directBlock - headerSize, directBlock - headerSize + 1, directBlock, 3*directBlock + 77} {
		for _, n := range []int64{directReadMin, directReadMin + 1, 2*directReadMin - 17, end - off} {
			if off+n > end {
				continue
			}
			got, err := readDirect(f, headerSize+off, n)
			if err != nil {
				t.Fatalf("readDirect [%d,+%d): %v", off, n, err)
			}
			if !bytes.Equal(got, data[off:off+n]) || cap(got) != len(got) {
				t.Fatalf("readDirect [%d,+%d): wrong bytes (len %d, cap %d)", off, n, len(got), cap(got))
			}
			got, err = st.GetRange(ctx, "p", off, n)
			if err != nil || !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("GetRange [%d,+%d): %v, or wrong bytes", off, n, err)
			}
		}
	}
	// Past the end is still refused, not read short.
	if _, err := st.GetRange(ctx, "p", 1, end); !errors.Is(err, objectstore.ErrInvalidRange) {
		t.Fatalf("GetRange past the end: %v", err)
	}
	// Reads around the cache leave no pages of the pack behind them.
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetRange(ctx, "p", 0, end); err != nil {
		t.Fatal(err)
	}
	if c := residentPages(t, f); c != 0 {
		t.Errorf("%d pages of the pack in the page cache after a read around it", c)
	}
}

// residentPages counts f's pages in the page cache (mincore).
func residentPages(t *testing.T, f *os.File) int {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestDirectReadsRefused: on a file system that refuses O_DIRECT (ramfs,
// mounted here; it needs root, which CI has), objects are still written
// and read right: writes and ranged reads fall back to the page cache,
// and a refused readDirect leaves the file reading through it.
func TestDirectReadsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("none", dir, "ramfs", 0, ""); err != nil {
		t.Fatalf("mount ramfs (needs root, as the FUSE tests do): %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	st, data, f := putObject(t, dir)
	ctx := context.Background()
	if _, err := readDirect(f, headerSize, directReadMin); err == nil {
		t.Fatal("readDirect succeeded on a ramfs: the test needs a file system that refuses O_DIRECT")
	}
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_DIRECT != 0 {
		t.Fatalf("after a refused readDirect the file's flags are %#o (%v), still O_DIRECT", fl, err)
	}
	end := int64(len(data))
	for _, off := range []int64{0, 1, directBlock + 5} {
		for _, n := range []int64{directReadMin, 2*directReadMin + 3, end - off} {
			got, err := st.GetRange(ctx, "p", off, n)
			if err != nil || !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("GetRange [%d,+%d): %v, or wrong bytes", off, n, err)
			}
		}
	}
	got, err := st.Get(ctx, "p")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v, or wrong bytes", err)
	}
}

// putObject stores object "p", of a few directReadMin and some blocks more,
// in a new store in dir, and returns the store, the bytes and the open
// object file; they are closed when the test ends.
func putObject(t *testing.T, dir string) (*Store, []byte, *os.File) {
	t.Helper()
	st, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data := make([]byte, 3*directReadMin+5*directBlock+123)
	for i := range data {
		data[i] = byte(i*31 + i>>12)
	}
	if _, err := st.Put(context.Background(), "p", data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(st.objPath("p"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return st, data, f
}
