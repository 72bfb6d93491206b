package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullCacheDir mounts a 1 MiB tmpfs at a new directory and fills it with
// files in blocks/, as a block cache that took all the space would.
func fullCacheDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	must(t, os.Mkdir(dir, 0o700))
	must(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"))
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the tmpfs at %s: %v", dir, err)
		}
	})
	blocks := filepath.Join(dir, "blocks")
	must(t, os.Mkdir(blocks, 0o700))
	chunk := make([]byte, 16<<10)
	for i := 0; ; i++ {
		err := os.WriteFile(filepath.Join(blocks, fmt.Sprintf("%064x", i)), chunk, 0o600)
		if errors.Is(err, syscall.ENOSPC) {
			return dir
		}
		must(t, err)
	}
}

// TestFullCacheDirKeepsCheckpoint: a --cache-dir full of cached blocks does
// not silently turn crash resume off. On S3, where coffer caches blocks
// there, the checkpoint evicts them and is written, so a daemon killed with
// SIGKILL is resumed; on a local repository (no block cache to evict) every
// failed checkpoint is an error in the log.
func TestFullCacheDirKeepsCheckpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		cache := fullCacheDir(t)
		flags := []string{"--cache-dir", cache, "--checkpoint-every", "200ms"}
		m := r.mount(t, flags...)
		writeFile(t, filepath.Join(m.dir, "f"), []byte("since the last snapshot\n"), 0o644)
		head := filepath.Join(cache, "head")
		deadline := time.Now().Add(shortTimeout)
		for {
			_, err := os.Stat(head)
			if be.name == "s3" && err == nil {
				break
			}
			if be.name != "s3" && strings.Count(m.log(), `level=ERROR msg="head checkpoint not saved`) >= 2 {
				m.umount(t)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no head checkpoint, and no error logged at each attempt, with a full --cache-dir; log:\n%s", m.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		must(t, m.cmd.Process.Signal(syscall.SIGKILL))
		_ = m.waitExit(t, shortTimeout)
		m2 := r.startMount(t, m.dir, flags...)
		m2.waitReady(t)
		assertContent(t, filepath.Join(m2.dir, "f"), "since the last snapshot\n")
		m2.umount(t)
	})
}
