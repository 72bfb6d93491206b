package cache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func mustPut(t *testing.T, c *DiskCache, key string, data []byte) {
	t.Helper()
	if err := c.Put(key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func TestDiskCachePutGetRemove(t *testing.T) {
	c, err := NewDiskCache(t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get on empty cache hit")
	}
	mustPut(t, c, "a", []byte("sealed-a"))
	mustPut(t, c, "../b/weird key", []byte("sealed-b"))
	if v, ok := c.Get("a"); !ok || string(v) != "sealed-a" {
		t.Fatalf("Get(a) = %q, %v", v, ok)
	}
	if v, ok := c.Get("../b/weird key"); !ok || string(v) != "sealed-b" {
		t.Fatalf("Get(weird) = %q, %v", v, ok)
	}
	mustPut(t, c, "a", []byte("longer-sealed-a"))
	if v, _ := c.Get("a"); string(v) != "longer-sealed-a" {
		t.Fatalf("after replace Get(a) = %q", v)
	}
	if s := c.Stats(); s.Bytes != 15+8 || s.Entries != 2 {
		t.Fatalf("Stats = %+v", s)
	}
	c.Remove("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get after Remove hit")
	}
	if s := c.Stats(); s.Bytes != 8 || s.Entries != 1 {
		t.Fatalf("Stats after Remove = %+v", s)
	}
	// Oversized blobs are not stored.
	mustPut(t, c, "big", make([]byte, 1001))
	if _, ok := c.Get("big"); ok {
		t.Fatal("oversized blob stored")
	}
}

func TestDiskCacheEvictsLRU(t *testing.T) {
	dir := t.TempDir()
	c, err := NewDiskCache(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustPut(t, c, fmt.Sprint(i), bytes.Repeat([]byte{byte(i)}, 100))
	}
	c.Get("0") // 0 is now the most recent; 1 the oldest
	mustPut(t, c, "3", make([]byte, 100))
	if _, ok := c.Get("1"); ok {
		t.Fatal("least recently used blob kept")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.Get(k); !ok {
			t.Fatalf("blob %s evicted", k)
		}
	}
	if got := dirBytes(t, dir); got != 300 {
		t.Fatalf("directory holds %d bytes, want 300", got)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

func TestDiskCacheReopen(t *testing.T) {
	dir := t.TempDir()
	c, err := NewDiskCache(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		mustPut(t, c, fmt.Sprint(i), make([]byte, 100))
		// Give each blob a distinct age: 0 oldest.
		when := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(dir, fileName(fmt.Sprint(i))), when, when); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"junk"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Reopen with room for three: the two oldest go.
	c, err = NewDiskCache(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Bytes != 300 || s.Entries != 3 {
		t.Fatalf("Stats after reopen = %+v", s)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := c.Get(fmt.Sprint(i)); ok != want {
			t.Fatalf("blob %d present=%v, want %v", i, ok, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"junk")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file survived reopen: %v", err)
	}
}

func TestDiskCacheENOSPC(t *testing.T) {
	c, err := NewDiskCache(t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		mustPut(t, c, fmt.Sprint(i), make([]byte, 100))
	}

	// The disk fills up once: Put evicts and the retry succeeds.
	fails := 1
	c.writeTemp = func(dir string, data []byte) (string, error) {
		if fails > 0 {
			fails--
			return "", &os.PathError{Op: "write", Path: dir, Err: syscall.ENOSPC}
		}
		return writeTemp(dir, data)
	}
	mustPut(t, c, "new", make([]byte, 150))
	if _, ok := c.Get("new"); !ok {
		t.Fatal("blob missing after retried Put")
	}
	if _, ok := c.Get("0"); ok {
		t.Fatal("ENOSPC did not evict the oldest blob")
	}
	if _, ok := c.Get("3"); !ok {
		t.Fatal("ENOSPC evicted more than needed")
	}

	// The disk stays full: Put fails with ENOSPC.
	fails = 2
	err = c.Put("other", make([]byte, 10))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk = %v, want ENOSPC", err)
	}
	if _, ok := c.Get("other"); ok {
		t.Fatal("failed Put left a blob")
	}
}

func TestDiskCacheConcurrent(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 2000
	c, err := NewDiskCache(dir, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprint((g*7 + i) % 40)
				want := bytes.Repeat([]byte(k), 50)
				if v, ok := c.Get(k); ok && !bytes.Equal(v, want) {
					t.Errorf("Get(%s) returned a wrong blob", k)
					return
				}
				if err := c.Put(k, want); err != nil {
					t.Error(err)
					return
				}
				if i%17 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if s := c.Stats(); s.Bytes > maxBytes {
		t.Fatalf("cache holds %d bytes, bound %d", s.Bytes, maxBytes)
	}
	if got, s := dirBytes(t, dir), c.Stats(); got != s.Bytes {
		t.Fatalf("directory holds %d bytes, accounting says %d", got, s.Bytes)
	}
}
