package cache

import (
	"fmt"
	"testing"
)

func TestDiskCacheFree(t *testing.T) {
	c, err := NewDiskCache(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := c.Put(fmt.Sprint(i), make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Free(1500); got != 2000 {
		t.Fatalf("Free(1500) freed %d bytes, want 2000 (two whole blobs)", got)
	}
	if _, ok := c.Get("0"); ok {
		t.Error("the oldest blob survived Free")
	}
	if _, ok := c.Get("3"); !ok {
		t.Error("the newest blob was freed")
	}
	if got := c.Free(1 << 30); got != 2000 {
		t.Fatalf("Free of more than held freed %d, want the remaining 2000", got)
	}
	if got := c.Free(1); got != 0 {
		t.Fatalf("Free on an empty cache freed %d", got)
	}
}
