package local

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
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
