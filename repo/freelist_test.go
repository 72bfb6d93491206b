package repo

import (
	"testing"
	"unsafe"
)

// TestPackBufLayout: every pack buffer, fresh or reused, starts where the
// local store can write its data around the page cache.
func TestPackBufLayout(t *testing.T) {
	f := newPackFreeList(2, 1<<20+123)
	var got [][]byte
	for range 3 {
		got = append(got, f.get())
	}
	for _, b := range got {
		f.put(b)
	}
	got = append(got, f.get(), f.get())
	for i, b := range got {
		if len(b) != 0 || cap(b) != f.size {
			t.Fatalf("buffer %d: len %d cap %d, want 0 and %d", i, len(b), cap(b), f.size)
		}
		if at := uintptr(unsafe.Pointer(unsafe.SliceData(b))) % packAlign; at != packAlignOff {
			t.Fatalf("buffer %d starts %d bytes past a %d boundary, want %d", i, at, packAlign, packAlignOff)
		}
	}
}
