package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The scale benchmark (make bench-scale, or -scale N): a generated tree of
// N files of 64 bytes in -scale-dirs directories, made in a coffer head and
// in a plain directory beside it; then snapshot, remount, find, ls -lR, an
// unchanged rsync and a one-file change with its snapshot, and the
// daemons' peak memory.

// createTree makes the scale tree under top, directory after directory
// (each file: create, write 64 bytes, close, set its times),
// and records the creation time per file of the first and the last chunk
// of files (in µs), so a cost that grows with the tree shows.
func (b *bench) createTree(prefix, top string) error {
	n, dirs := b.cfg.scale, b.cfg.scaleDirs
	chunk := min(10000, max(1, n/10))
	perDir := (n + dirs - 1) / dirs
	data := make([]byte, 64)
	for i := range data {
		data[i] = 'x'
	}
	if err := os.MkdirAll(top, 0o755); err != nil {
		return err
	}
	t0, chunkStart := time.Now(), time.Now()
	var last float64
	for i := 0; i < n; i++ {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		dir := filepath.Join(top, fmt.Sprintf("d%05d", i/perDir))
		if i%perDir == 0 {
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
		}
		file := filepath.Join(dir, fmt.Sprintf("f%07d", i))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
		// Fixed times, so the plain tree and coffer's are the same to
		// rsync: its unchanged run then finds nothing to do.
		if err := os.Chtimes(file, scaleTime, scaleTime); err != nil {
			return err
		}
		if (i+1)%perDir == 0 || i == n-1 {
			if err := os.Chtimes(dir, scaleTime, scaleTime); err != nil {
				return err
			}
		}
		if (i+1)%chunk == 0 || i == n-1 {
			done := (i % chunk) + 1
			last = time.Since(chunkStart).Seconds() * 1e6 / float64(done)
			if i+1 == chunk {
				b.set(prefix+"_first", last)
			}
			if (i+1)%(chunk*10) == 0 {
				b.say("  %s: %d files, %.0f µs a file in the last %d", prefix, i+1, last, done)
			}
			chunkStart = time.Now()
		}
	}
	if err := os.Chtimes(top, scaleTime, scaleTime); err != nil {
		return err
	}
	b.set(prefix+"_last", last)
	b.set(prefix+"_create", time.Since(t0).Seconds())
	return nil
}

// scaleTime is the modification time of every file and directory of the
// scale tree.
var scaleTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// changeOne rewrites one file of the scale tree.
func changeOne(top string) error {
	return os.WriteFile(filepath.Join(top, "d00000", "f0000000"), []byte("changed\n"), 0o644)
}

func (b *bench) scaleBench() []row {
	plain, plain2 := filepath.Join(b.work, "scale-plain", "t"), filepath.Join(b.work, "scale-plain2", "t")
	b.say("S1. plain ext4: create %d files", b.cfg.scale)
	if err := b.createTree("scale_plain", plain); err != nil {
		b.fail("scale_plain_create", err.Error())
	}
	b.timed("scale_plain_sync", b.syncStep)
	b.dropCaches()
	b.timed("scale_plain_find", b.cmdStep("plain-find", nil, "sh", "-c", `exec find "$1" >/dev/null`, "find", plain))
	b.timed("scale_plain_ls", b.cmdStep("plain-ls", nil, "sh", "-c", `exec ls -lR "$1" >/dev/null`, "ls", plain))
	if err := os.MkdirAll(plain2, 0o755); err != nil {
		b.fail("scale_plain_rsync", err.Error())
	} else if err := b.run("plain-copy", nil, "rsync", "-a", plain+"/", plain2+"/"); err != nil {
		b.fail("scale_plain_rsync", err.Error())
	} else {
		b.timed("scale_plain_rsync", b.cmdStep("plain-rsync", nil, "rsync", "-a", plain+"/", plain2+"/"))
	}
	b.timed("scale_plain_change", func() error { return changeOne(plain2) }, b.syncStep)
	b.scaleCoffer(plain)
	return b.scaleRows()
}

func (b *bench) scaleCoffer(plain string) {
	keys := []string{"scale_coffer_create", "scale_coffer_first", "scale_coffer_last", "scale_coffer_snapshot",
		"scale_rss_create", "scale_coffer_remount", "scale_coffer_find", "scale_coffer_ls", "scale_coffer_rsync",
		"scale_coffer_change", "scale_rss"}
	b.key = filepath.Join(b.work, "coffer.key")
	repo, mnt := filepath.Join(b.work, "coffer.repo"), filepath.Join(b.work, "coffer.mnt")
	if err := b.run("coffer-key", nil, b.cfg.coffer, "key", "generate", b.key); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	if err := b.run("coffer-init", nil, b.cfg.coffer, "init", "--repo", repo, "--key-file", b.key); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	d, err := b.cofferMount("coffer-mount", mnt, nil, "--repo", repo)
	if err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	b.say("S1. coffer: create %d files", b.cfg.scale)
	top := filepath.Join(mnt, "t")
	if err := b.createTree("scale_coffer", top); err != nil {
		b.failAll(err.Error(), keys...)
		b.stop(d)
		return
	}
	b.set("scale_rss_create", d.hwmMiB())
	b.timed("scale_coffer_snapshot", b.snapshotStep(d, nil))
	if err := b.cofferUmount(d, nil); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	b.say("S2. coffer: remount, find, ls -lR, rsync, change one file")
	b.dropCaches()
	t0 := time.Now()
	// The cache directory stays: a remount of the same machine has it.
	full := []string{b.cfg.coffer, "mount", "--repo", repo, "--key-file", b.key, "--cache-dir", filepath.Join(b.work, "coffer-mount.cache"), mnt}
	d, err = b.mountFUSE("coffer-remount", mnt, nil, full...)
	if err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	b.set("scale_coffer_remount", time.Since(t0).Seconds())
	b.timed("scale_coffer_find", b.cmdStep("coffer-find", nil, "sh", "-c", `exec find "$1" >/dev/null`, "find", top))
	b.timed("scale_coffer_ls", b.cmdStep("coffer-ls", nil, "sh", "-c", `exec ls -lR "$1" >/dev/null`, "ls", top))
	b.timed("scale_coffer_rsync", b.cmdStep("coffer-rsync", nil, "rsync", "-a", plain+"/", top+"/"))
	b.timed("scale_coffer_change", func() error { return changeOne(top) }, b.snapshotStep(d, nil))
	b.set("scale_rss", d.hwmMiB())
	if err := b.cofferUmount(d, nil); err != nil {
		b.warn(err.Error())
	}
}

func (b *bench) scaleRows() []row {
	n := fmt.Sprintf("%d", b.cfg.scale)
	chunk := fmt.Sprintf("%d", min(10000, max(1, b.cfg.scale/10)))
	return []row{
		{"S1", "create " + n + " files of 64 B, plain ext4", "scale_plain_create", "s", ""},
		{"S1", "create " + n + " files of 64 B, coffer", "scale_coffer_create", "s", ""},
		{"S1", "coffer / plain creation time", "scale_coffer_create/scale_plain_create", "ratio", ""},
		{"S1", "per file, first " + chunk + ", plain ext4", "scale_plain_first", "µs", ""},
		{"S1", "per file, last " + chunk + ", plain ext4", "scale_plain_last", "µs", ""},
		{"S1", "per file, first " + chunk + ", coffer", "scale_coffer_first", "µs", ""},
		{"S1", "per file, last " + chunk + ", coffer", "scale_coffer_last", "µs", ""},
		{"S1", "coffer per-file cost, last / first", "scale_coffer_last/scale_coffer_first", "ratio", "<= 1.2"},
		{"S2", "sync after creating, plain ext4", "scale_plain_sync", "s", ""},
		{"S2", "snapshot after creating, coffer", "scale_coffer_snapshot", "s", ""},
		{"S2", "coffer daemon peak RSS after creating", "scale_rss_create", "MiB", "<= 512"},
		{"S3", "remount (coffer mount until mounted)", "scale_coffer_remount", "s", ""},
		{"S4", "find, cold, plain ext4", "scale_plain_find", "s", ""},
		{"S4", "find, fresh mount, coffer", "scale_coffer_find", "s", ""},
		{"S4", "coffer / plain find time", "scale_coffer_find/scale_plain_find", "ratio", ""},
		{"S5", "ls -lR after find, plain ext4", "scale_plain_ls", "s", ""},
		{"S5", "ls -lR after find, coffer", "scale_coffer_ls", "s", ""},
		{"S5", "coffer / plain ls -lR time", "scale_coffer_ls/scale_plain_ls", "ratio", ""},
		{"S6", "rsync -a unchanged, plain ext4", "scale_plain_rsync", "s", ""},
		{"S6", "rsync -a unchanged, coffer", "scale_coffer_rsync", "s", ""},
		{"S6", "coffer / plain unchanged rsync time", "scale_coffer_rsync/scale_plain_rsync", "ratio", ""},
		{"S7", "change 1 file + sync, plain ext4", "scale_plain_change", "s", ""},
		{"S7", "change 1 file + snapshot, coffer", "scale_coffer_change", "s", "<= 1"},
		{"S8", "coffer daemon peak RSS, remount to the end", "scale_rss", "MiB", "<= 512"},
	}
}
