package tests

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestResumeAfterCrash: a daemon killed with SIGKILL between snapshots
// loses nothing that it had checkpointed. The next daemon resumes the head
// from the checkpoint; the head and the snapshot it then commits hold the
// tree as it was copied in.
func TestResumeAfterCrash(t *testing.T) {
	tool(t, "rsync")
	src := filepath.Join(t.TempDir(), "src")
	buildRsyncTree(t, src, newRand("resume"), false)
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		cache := filepath.Join(t.TempDir(), "cache")
		flags := []string{"--cache-dir", cache, "--checkpoint-every", "200ms"}
		m := r.mount(t, flags...)
		writeFile(t, filepath.Join(m.dir, "before"), []byte("committed\n"), 0o644)
		m.snapshot(t)
		rsyncInto(t, src, filepath.Join(m.dir, "tree"))

		// The daemon checkpoints every 200 ms while the head changes; a
		// second without changes leaves the last checkpoint up to date
		// (it may have been written before rsync even returned).
		time.Sleep(time.Second)
		head := filepath.Join(cache, "head")
		if _, err := os.Stat(head); err != nil {
			t.Fatalf("no head checkpoint after the copy: %v; daemon log:\n%s", err, m.log())
		}
		must(t, m.cmd.Process.Signal(syscall.SIGKILL))
		_ = m.waitExit(t, shortTimeout)

		m2 := r.startMount(t, m.dir, flags...)
		m2.waitReady(t)
		assertRsyncClean(t, "resumed head", src, filepath.Join(m2.dir, "tree"))
		if got, err := os.ReadFile(filepath.Join(m2.dir, "before")); err != nil || string(got) != "committed\n" {
			t.Fatalf("file from before the snapshot: %q, %v", got, err)
		}
		m2.snapshot(t)
		assertRsyncClean(t, "snapshot after resuming", src, filepath.Join(m2.dir, ".snapshots", "latest", "tree"))
		m2.umount(t)
		if _, err := os.Stat(head); !os.IsNotExist(err) {
			t.Errorf("head checkpoint still there after the snapshot: %v", err)
		}
	})
}
