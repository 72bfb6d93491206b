package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// tmpPrefix marks files being written; Open deletes any it finds.
const tmpPrefix = ".tmp-"

// DiskCache is a least-recently-used cache of blobs in one directory,
// bounded by the sum of their sizes. It stores bytes as given: callers store
// only sealed (encrypted and authenticated) blobs, so the directory never
// holds plaintext. It is safe for concurrent use by one process; two
// processes must not share a directory.
//
// Each blob is one file named by the SHA-256 of its key. Files are written
// to a temporary name, synced and renamed, so a reader sees a whole blob or
// none. Recency survives restarts through the files' modification times,
// which Get refreshes.
type DiskCache struct {
	dir      string
	maxBytes int64
	// writeTemp writes data to a new synced temporary file in dir and
	// returns its path; tests replace it to inject errors.
	writeTemp func(dir string, data []byte) (string, error)

	mu sync.Mutex
	// Guarded by mu.
	lru   *simplelru.LRU[string, int64] // file name -> size, oldest first
	bytes int64                         // sum of lru's sizes
}

// NewDiskCache opens (creating if needed) the cache in dir, holding at most
// maxBytes bytes. It rebuilds its accounting from the files present, oldest
// modification first, removes leftover temporary files and evicts down to
// maxBytes.
func NewDiskCache(dir string, maxBytes int64) (*DiskCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("diskcache: %w", err)
	}
	c := &DiskCache{dir: dir, maxBytes: maxBytes, writeTemp: writeTemp}
	c.lru, _ = simplelru.NewLRU[string, int64](math.MaxInt, c.onEvict)

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("diskcache: %w", err)
	}
	type file struct {
		name  string
		size  int64
		mtime time.Time
	}
	var files []file
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("diskcache: %w", err)
		}
		files = append(files, file{e.Name(), info.Size(), info.ModTime()})
	}
	slices.SortFunc(files, func(a, b file) int { return a.mtime.Compare(b.mtime) })

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		c.lru.Add(f.name, f.size)
		c.bytes += f.size
	}
	c.evictLocked(c.maxBytes)
	return c, nil
}

// onEvict deletes an entry's file when it leaves the LRU and keeps bytes
// true. It runs with mu held.
func (c *DiskCache) onEvict(name string, size int64) {
	c.bytes -= size
	_ = os.Remove(filepath.Join(c.dir, name))
}

// evictLocked removes least recently used blobs until at most limit bytes
// remain.
func (c *DiskCache) evictLocked(limit int64) {
	for c.bytes > limit && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}

// fileName maps a key to its file name. Hashing makes any key a safe name
// of fixed length.
func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Get returns the blob stored under key, and whether there was one.
func (c *DiskCache) Get(key string) ([]byte, bool) {
	name := fileName(key)
	c.mu.Lock()
	_, ok := c.lru.Get(name)
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	path := filepath.Join(c.dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		// Evicted or removed meanwhile, or unreadable: a miss either way.
		c.Remove(key)
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return data, true
}

// Put stores data under key, replacing any older blob, and evicts least
// recently used blobs to stay within the bound. A blob larger than the
// bound is not stored. If the disk is full, Put evicts at least len(data)
// bytes and retries once; if that fails too the error wraps
// syscall.ENOSPC.
func (c *DiskCache) Put(key string, data []byte) error {
	size := int64(len(data))
	if size > c.maxBytes {
		c.Remove(key)
		return nil
	}
	name := fileName(key)
	tmp, err := c.writeTemp(c.dir, data)
	if errors.Is(err, syscall.ENOSPC) {
		c.mu.Lock()
		c.evictLocked(max(0, c.bytes-size))
		c.mu.Unlock()
		tmp, err = c.writeTemp(c.dir, data)
	}
	if err != nil {
		return fmt.Errorf("diskcache: put %s: %w", name, err)
	}

	// Rename under mu, so that Remove and eviction never race with a
	// blob appearing.
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.Rename(tmp, filepath.Join(c.dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("diskcache: put %s: %w", name, err)
	}
	if old, ok := c.lru.Peek(name); ok {
		// The new file already replaced the old one: account for it
		// without letting onEvict delete the new file.
		c.bytes -= old
	}
	c.lru.Add(name, size)
	c.bytes += size
	c.evictLocked(c.maxBytes)
	return nil
}

// Remove deletes the blob stored under key, if any.
func (c *DiskCache) Remove(key string) {
	name := fileName(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.lru.Remove(name) {
		// Not tracked; remove any stray file all the same.
		_ = os.Remove(filepath.Join(c.dir, name))
	}
}

// Stats returns the number of blobs held and their total size. Hits and
// Misses are not counted for a DiskCache.
func (c *DiskCache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Bytes: c.bytes, Entries: c.lru.Len()}
}

// writeTemp writes data to a new temporary file in dir and syncs it, so
// that once renamed it holds all of data even after a crash. The directory
// is not synced: losing the rename in a crash only loses a cache entry.
func writeTemp(dir string, data []byte) (path string, err error) {
	f, err := os.CreateTemp(dir, tmpPrefix)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}
