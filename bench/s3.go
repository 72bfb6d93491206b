package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
)

// Figures 6 and 9: coffer and restic against the same versitygw. coffer
// writes the big file and rsyncs the tree twice through a mount (and,
// where it has the command, backs the tree up without one); restic backs
// up the same file and tree. Then the tree is restored three ways from the
// same server: restic restore, coffer restore, and cp -a out of a fresh
// `coffer mount --snapshot latest`.

var s3Keys = []string{"s3_coffer_write", "s3_coffer_rsync", "s3_coffer_rsync2", "rss_s3",
	"s3_restic_write", "s3_restic_tree", "s3_restic_tree2",
	"s3_coffer_backup", "s3_coffer_backup2",
	"s3_restic_restore", "s3_coffer_restore", "s3_coffer_cp", "req_cp_out"}

func (b *bench) figS3(l *local) {
	b.say("6. S3 (versitygw): coffer and restic; 9. restore")
	srv, cofferBucket, resticBucket, err := b.startS3()
	if err != nil {
		b.failAll("versitygw: "+err.Error(), s3Keys...)
		return
	}
	env := srv.Env()
	s3Flags := []string{"--insecure-http", "--path-style"}
	resticRepo := "s3:" + srv.Endpoint + "/" + resticBucket
	restic := func(name string, args ...string) func() error {
		renv := append([]string{"RESTIC_PASSWORD=bench-passphrase", "RESTIC_CACHE_DIR=" + filepath.Join(b.work, "restic.cache")}, env...)
		return b.cmdStep(name, renv, append([]string{"restic", "-r", resticRepo}, args...)...)
	}
	if _, err := exec.LookPath("restic"); err != nil {
		b.failAll("restic not installed", "s3_restic_write", "s3_restic_tree", "s3_restic_tree2", "s3_restic_restore")
	} else if err := restic("restic-init", "init")(); err != nil {
		b.failAll(err.Error(), "s3_restic_write", "s3_restic_tree", "s3_restic_tree2", "s3_restic_restore")
	} else {
		warm(b.src)
		b.timed("s3_restic_write", restic("restic-write", "backup", b.src))
		warm(b.cfg.tree)
		if _, ok := b.timed("s3_restic_tree", restic("restic-tree", "backup", b.cfg.tree)); ok {
			b.timed("s3_restic_tree2", restic("restic-tree2", "backup", b.cfg.tree))
			dst := filepath.Join(b.work, "restic-restore")
			b.dropCaches()
			if _, ok := b.timed("s3_restic_restore", restic("restic-restore", "restore", "latest", "--path", b.cfg.tree, "--target", dst)); ok {
				b.sameTree("s3_restic_restore", filepath.Join(dst, b.cfg.tree))
			}
		} else {
			b.failAll("first backup failed", "s3_restic_tree2", "s3_restic_restore")
		}
	}

	cofferS3 := []string{"s3_coffer_write", "s3_coffer_rsync", "s3_coffer_rsync2", "rss_s3", "s3_coffer_restore", "s3_coffer_cp", "req_cp_out"}
	if l.cofferDown != "" {
		b.failAll("coffer: FAILED ("+l.cofferDown+")", append(cofferS3, "s3_coffer_backup", "s3_coffer_backup2")...)
		return
	}
	repo := "s3://" + cofferBucket + "/bench"
	if err := b.run("coffer-s3-init", env, append([]string{b.cfg.coffer, "init", "--repo", repo, "--key-file", b.key}, s3Flags...)...); err != nil {
		b.failAll(err.Error(), cofferS3...)
	} else {
		b.cofferS3Mount(repo, env, s3Flags)
		b.cofferS3Restore(repo, env, s3Flags)
	}
	b.cofferS3Backup("s3://"+cofferBucket+"/backup", env, s3Flags)
}

// cofferS3Mount: the big file, the tree and its re-run through a head mount.
func (b *bench) cofferS3Mount(repo string, env, s3Flags []string) {
	d, err := b.cofferMount("coffer-s3-mount", filepath.Join(b.work, "coffer-s3.mnt"), env, append([]string{"--repo", repo}, s3Flags...)...)
	if err != nil {
		b.failAll(err.Error(), "s3_coffer_write", "s3_coffer_rsync", "s3_coffer_rsync2", "rss_s3", "s3_coffer_restore", "s3_coffer_cp", "req_cp_out")
		return
	}
	warm(b.src)
	b.timed("s3_coffer_write", b.ddStep("coffer-s3-write", filepath.Join(d.dir, "big.bin")), b.snapshotStep(d, env))
	warm(b.cfg.tree)
	if _, ok := b.timed("s3_coffer_rsync", b.rsyncStep("coffer-s3-rsync", filepath.Join(d.dir, "go")), b.snapshotStep(d, env)); ok {
		warm(b.cfg.tree)
		b.timed("s3_coffer_rsync2", b.rsyncStep("coffer-s3-rsync2", filepath.Join(d.dir, "go")), b.snapshotStep(d, env))
	} else {
		b.failAll("first rsync failed", "s3_coffer_rsync2", "s3_coffer_restore", "s3_coffer_cp", "req_cp_out")
	}
	b.set("rss_s3", d.hwmMiB())
	if err := b.cofferUmount(d, env); err != nil {
		b.warn(err.Error())
	}
}

// cofferS3Restore: 9. the tree restored by coffer restore, and by cp -a
// from a fresh read-only mount, each checked against the source.
//
// keptTrees: the restored trees (restic's too) stay until the run's work
// directory goes, at the end. ext4 will not reuse an inode freed in the
// last minutes and searches longer for one after thousands were freed, so
// deleting one restore's tree would slow the creation of the next one's
// files (docs/BENCHMARKS.md, runs P and Q).
func (b *bench) cofferS3Restore(repo string, env, s3Flags []string) {
	if _, ok := b.vals["s3_coffer_rsync"]; !ok {
		return
	}
	if !b.hasCommand("restore") {
		b.fail("s3_coffer_restore", "n/a: this coffer has no restore command")
	} else {
		dst := filepath.Join(b.work, "coffer-restore")
		b.dropCaches()
		args := append([]string{b.cfg.coffer, "restore", "latest:/go", dst, "--repo", repo, "--key-file", b.key, "--quiet"}, s3Flags...)
		if _, ok := b.timed("s3_coffer_restore", b.cmdStep("coffer-restore", env, args...)); ok {
			b.sameTree("s3_coffer_restore", dst)
		}
	}
	countsFile := filepath.Join(b.work, "coffer-s3-snap.counts.json")
	d, err := b.cofferMount("coffer-s3-snap", filepath.Join(b.work, "coffer-s3-snap.mnt"), append([]string{"COFFER_FUSE_COUNTS=" + countsFile}, env...),
		append([]string{"--repo", repo, "--snapshot", "latest"}, s3Flags...)...)
	if err != nil {
		b.failAll(err.Error(), "s3_coffer_cp", "req_cp_out")
		return
	}
	dst := filepath.Join(b.work, "coffer-cp")
	b.dropCaches()
	_, ok := b.timed("s3_coffer_cp", b.cmdStep("coffer-cp", nil, "cp", "-a", filepath.Join(d.dir, "go")+"/.", dst))
	if ok {
		b.sameTree("s3_coffer_cp", dst)
	}
	if err := b.cofferUmount(d, env); err != nil {
		b.warn(err.Error())
	}
	if ok {
		b.setCounts("req_cp_out", countsFile, b.treeFiles)
	} else {
		b.fail("req_cp_out", "cp -a failed")
	}
}

// cofferS3Backup: `coffer backup` of the tree, then its unchanged re-run,
// into a repository of its own; n/a where coffer has no backup command.
func (b *bench) cofferS3Backup(repo string, env, s3Flags []string) {
	keys := []string{"s3_coffer_backup", "s3_coffer_backup2"}
	if !b.hasCommand("backup") {
		b.failAll("n/a: this coffer has no backup command", keys...)
		return
	}
	if err := b.run("coffer-backup-init", env, append([]string{b.cfg.coffer, "init", "--repo", repo, "--key-file", b.key}, s3Flags...)...); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	args := append([]string{b.cfg.coffer, "backup", b.cfg.tree, "--repo", repo, "--key-file", b.key}, s3Flags...)
	warm(b.cfg.tree)
	if _, ok := b.timed("s3_coffer_backup", b.cmdStep("coffer-backup", env, args...)); ok {
		b.timed("s3_coffer_backup2", b.cmdStep("coffer-backup2", env, args...))
	} else {
		b.fail("s3_coffer_backup2", "first backup failed")
	}
}

// hasCommand says whether the coffer under test has a command: its help
// names it in the usage line (for an unknown command, cobra prints the
// root's help and exits 0).
func (b *bench) hasCommand(name string) bool {
	out, err := exec.Command(b.cfg.coffer, name, "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), "\n  coffer "+name+" ")
}

// sameTree checks, untimed, that a restored tree has the source's
// contents; a restore that is fast but wrong is not a figure.
func (b *bench) sameTree(key, dst string) {
	if err := b.run(key+"-diff", nil, "diff", "-r", "--no-dereference", "-q", b.cfg.tree, dst); err != nil {
		delete(b.vals, key)
		b.fail(key, "restored tree differs from the source: "+err.Error())
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
