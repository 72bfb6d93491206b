package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The standard run (make bench): every figure of the old bench.sh, the
// go-fuse loopback floor, the tiny-file loop, FUSE requests per file, and
// (figures 6 and 9) coffer beside restic on one versitygw.

// peer is a directory written through one filesystem under comparison:
// plain ext4, or a FUSE mount over a directory of the same disk.
type peer struct {
	key string  // prefix of its figures' keys: plain, lb, gc, rc
	dir string  // where its files go
	d   *daemon // nil for plain
}

// local is the state the local figures share.
type local struct {
	peers      []*peer // plain first, then loopback and gocryptfs when mounted
	rclone     *peer
	head       *daemon // coffer's head mount on the local repository
	repo       string
	cofferDown string // why no coffer figure can be measured, if set
}

func (b *bench) standard() []row {
	var l local
	b.setUp(&l)
	if b.wants("write") {
		b.figWrite(&l)
	}
	if b.wants("rsync") {
		b.figRsync(&l)
	}
	if l.head != nil {
		if err := b.cofferUmount(l.head, nil); err != nil {
			b.failAll(err.Error(), "coffer_read", "coffer_ls")
		}
		l.head = nil
	}
	if b.wants("read") {
		b.figRead(&l)
	}
	if b.wants("tiny") {
		b.figTiny(&l)
	}
	for _, p := range l.peers {
		if p.d != nil {
			b.unmountFUSE(p.d)
		}
	}
	if b.wants("requests") {
		b.figRequests(&l)
	}
	if b.wants("rss") {
		b.figBig(&l)
	}
	if b.wants("s3") {
		b.figS3(&l)
	} else {
		b.failAll("skipped (-skip s3)", s3Keys...)
	}
	return b.standardRows()
}

// setUp makes the key, the random source, and mounts the loopback and
// gocryptfs peers.
func (b *bench) setUp(l *local) {
	plainDir := filepath.Join(b.work, "plain")
	_ = os.MkdirAll(plainDir, 0o755)
	l.peers = append(l.peers, &peer{key: "plain", dir: plainDir})
	b.key = filepath.Join(b.work, "coffer.key")
	if st, err := os.Stat(b.cfg.coffer); err != nil {
		l.cofferDown = "binary not found at " + b.cfg.coffer
	} else if st.Mode()&0o111 == 0 {
		l.cofferDown = b.cfg.coffer + " is not executable"
	} else if err := b.run("coffer-key", nil, b.cfg.coffer, "key", "generate", b.key); err != nil {
		l.cofferDown = "key generate failed: " + err.Error()
	}
	if l.cofferDown != "" {
		b.failAll("coffer: FAILED ("+l.cofferDown+")", cofferKeys...)
	}
	var err error
	if b.src, err = b.makeSource(b.cfg.sizeMB); err != nil {
		b.warn("no random source: " + err.Error())
	}
	// The peers serve only the local figures.
	if !b.wants("write") && !b.wants("rsync") && !b.wants("read") && !b.wants("tiny") {
		return
	}
	if b.wants("loopback") {
		if p, err := b.loopbackUp(); err != nil {
			b.failAll(err.Error(), peerKeys("lb")...)
		} else {
			l.peers = append(l.peers, p)
		}
	} else {
		b.failAll("skipped (-skip loopback)", peerKeys("lb")...)
	}
	if b.wants("gocryptfs") {
		if p, err := b.gocryptfsUp(); err != nil {
			b.failAll(err.Error(), peerKeys("gc")...)
		} else {
			l.peers = append(l.peers, p)
		}
	} else {
		b.failAll("skipped (-skip gocryptfs)", peerKeys("gc")...)
	}
}

// peerKeys are the figures every local peer has.
func peerKeys(k string) []string {
	return []string{k + "_write", k + "_rsync", k + "_rsync2", k + "_read", k + "_ls", k + "_tiny"}
}

var cofferKeys = []string{"coffer_write", "coffer_rsync", "coffer_rsync2", "coffer_read", "coffer_ls",
	"coffer_tiny", "rss_small", "rss_big", "coffer_big_write",
	"req_rsync", "req_tar", "req_cp", "req_python", "cpu_req_rsync", "cpu_rsync_coffer"}

// loopbackUp builds go-fuse's loopback example from the module cache (the
// version coffer itself uses) and mounts it over a directory of the disk.
func (b *bench) loopbackUp() (*peer, error) {
	bin := filepath.Join(b.work, "loopback")
	if err := b.run("loopback-build", nil, "go", "build", "-o", bin, "github.com/hanwen/go-fuse/v2/example/loopback"); err != nil {
		return nil, err
	}
	orig, mnt := filepath.Join(b.work, "loopback.orig"), filepath.Join(b.work, "loopback.mnt")
	if err := os.MkdirAll(orig, 0o755); err != nil {
		return nil, err
	}
	d, err := b.mountFUSE("loopback", mnt, nil, bin, "-q", mnt, orig)
	if err != nil {
		return nil, err
	}
	return &peer{key: "lb", dir: mnt, d: d}, nil
}

func (b *bench) gocryptfsUp() (*peer, error) {
	cipherDir, mnt, pass := filepath.Join(b.work, "gocryptfs.cipher"), filepath.Join(b.work, "gocryptfs.mnt"), filepath.Join(b.work, "gocryptfs.pass")
	_ = os.MkdirAll(cipherDir, 0o755)
	if err := os.WriteFile(pass, []byte("bench-passphrase\n"), 0o600); err != nil {
		return nil, err
	}
	if err := b.run("gocryptfs-init", nil, "gocryptfs", "-init", "-q", "-passfile", pass, cipherDir); err != nil {
		return nil, err
	}
	d, err := b.mountFUSE("gocryptfs", mnt, nil, "gocryptfs", "-fg", "-q", "-passfile", pass, cipherDir, mnt)
	if err != nil {
		return nil, err
	}
	return &peer{key: "gc", dir: mnt, d: d}, nil
}

// cofferMount starts `coffer mount ARGS MOUNTPOINT` with a fresh cache
// directory, so cold reads are cold in coffer's cache too.
func (b *bench) cofferMount(name, mnt string, env []string, args ...string) (*daemon, error) {
	cache := filepath.Join(b.work, name+".cache")
	_ = os.RemoveAll(cache)
	full := append([]string{b.cfg.coffer, "mount"}, args...)
	full = append(full, "--key-file", b.key, "--cache-dir", cache, mnt)
	return b.mountFUSE(name, mnt, env, full...)
}

// cofferHead inits the local repository and mounts its head, once.
func (b *bench) cofferHead(l *local) error {
	if l.cofferDown != "" {
		return fmt.Errorf("coffer: FAILED (%s)", l.cofferDown)
	}
	if l.head != nil {
		return nil
	}
	l.repo = filepath.Join(b.work, "coffer.repo")
	if err := b.run("coffer-init", nil, b.cfg.coffer, "init", "--repo", l.repo, "--key-file", b.key); err != nil {
		l.cofferDown = err.Error()
		return err
	}
	d, err := b.cofferMount("coffer-mount", filepath.Join(b.work, "coffer.mnt"), nil, "--repo", l.repo)
	if err != nil {
		l.cofferDown = err.Error()
		return err
	}
	l.head = d
	return nil
}

func (b *bench) snapshotStep(d *daemon, env []string) func() error {
	return b.cmdStep(d.name+"-snapshot", env, b.cfg.coffer, "snapshot", d.dir)
}

func (b *bench) syncStep() error { syscall.Sync(); return nil }

// ddStep writes the random source to path durably.
func (b *bench) ddStep(name, path string) func() error {
	return b.cmdStep(name, nil, "dd", "if="+b.src, "of="+path, "bs=1M", "conv=fsync", "status=none")
}

func mibps(mb int, s float64) float64 { return float64(mb) / s }

// figWrite: 1. write sizeMB from the warm source, durably.
func (b *bench) figWrite(l *local) {
	b.say("1. write %d MiB", b.cfg.sizeMB)
	for _, p := range l.peers {
		warm(b.src)
		if s, ok := b.timed(p.key+"_write_s", b.ddStep(p.key+"-write", filepath.Join(p.dir, "big.bin"))); ok {
			b.set(p.key+"_write", mibps(b.cfg.sizeMB, s))
		} else {
			b.fail(p.key+"_write", b.fails[p.key+"_write_s"])
		}
	}
	if err := b.cofferHead(l); err != nil {
		b.failAll(err.Error(), "coffer_write", "rss_small")
		return
	}
	warm(b.src)
	if s, ok := b.timed("coffer_write_s", b.ddStep("coffer-write", filepath.Join(l.head.dir, "big.bin")),
		b.snapshotStep(l.head, nil)); ok {
		b.set("coffer_write", mibps(b.cfg.sizeMB, s))
		b.set("rss_small", l.head.hwmMiB())
	} else {
		b.failAll(b.fails["coffer_write_s"], "coffer_write", "rss_small")
	}
}

// rsyncStep copies the tree into dst with rsync -a.
func (b *bench) rsyncStep(name, dst string) func() error {
	return b.cmdStep(name, nil, "rsync", "-a", b.cfg.tree+"/", dst+"/")
}

// figRsync: 2. rsync -a of the tree, made durable, then an unchanged re-run.
func (b *bench) figRsync(l *local) {
	b.say("2. rsync -a %s", b.cfg.tree)
	headErr := b.cofferHead(l)
	rc, rcErr := b.rcloneUp()
	mem, memErr := b.memUp()
	for _, run := range []string{"_rsync", "_rsync2"} {
		if memErr != nil {
			b.fail("mem"+run, memErr.Error())
		} else {
			warm(b.cfg.tree)
			b.timed("mem"+run, b.rsyncStep("mem"+run, filepath.Join(mem.dir, "go")))
		}
		for _, p := range l.peers {
			warm(b.cfg.tree)
			b.timed(p.key+run, b.rsyncStep(p.key+run, filepath.Join(p.dir, "go")), b.syncStep)
		}
		if headErr != nil {
			b.fail("coffer"+run, headErr.Error())
		} else {
			warm(b.cfg.tree)
			b.timed("coffer"+run, b.rsyncStep("coffer"+run, filepath.Join(l.head.dir, "go")), b.snapshotStep(l.head, nil))
		}
		if rcErr != nil {
			b.fail("rc"+run, rcErr.Error())
		} else {
			warm(b.cfg.tree)
			b.timed("rc"+run, b.rsyncStep("rc"+run, filepath.Join(rc.dir, "go")), b.rcloneFlushed)
		}
	}
	if rc != nil {
		b.unmountFUSE(rc.d)
	}
	if mem != nil {
		b.unmountFUSE(mem.d)
	}
}

// figRead: 3. cold read of the big file, 4. cold ls -lR of the tree; coffer's
// from the snapshot, each through a fresh daemon with an empty cache.
func (b *bench) figRead(l *local) {
	b.say("3. cold read of %d MiB, 4. cold ls -lR", b.cfg.sizeMB)
	for _, p := range l.peers {
		b.coldRead(p.key+"_read", filepath.Join(p.dir, "big.bin"))
		b.coldLs(p.key+"_ls", filepath.Join(p.dir, "go"))
	}
	if l.cofferDown != "" || l.repo == "" {
		b.failAll("coffer: no snapshot to read ("+l.cofferDown+")", "coffer_read", "coffer_ls")
		return
	}
	if _, ok := b.vals["coffer_rsync"]; ok {
		if d, err := b.cofferMount("coffer-snap-ls", filepath.Join(b.work, "coffer-snap-ls.mnt"), nil, "--repo", l.repo, "--snapshot", "latest"); err != nil {
			b.fail("coffer_ls", err.Error())
		} else {
			b.coldLs("coffer_ls", filepath.Join(d.dir, "go"))
			if err := b.cofferUmount(d, nil); err != nil {
				b.warn(err.Error())
			}
		}
	} else {
		b.fail("coffer_ls", "rsync into coffer failed")
	}
	if _, ok := b.vals["coffer_write"]; !ok {
		b.fail("coffer_read", "write into coffer failed")
		return
	}
	d, err := b.cofferMount("coffer-snap-read", filepath.Join(b.work, "coffer-snap-read.mnt"), nil, "--repo", l.repo, "--snapshot", "latest")
	if err != nil {
		b.fail("coffer_read", err.Error())
		return
	}
	b.coldRead("coffer_read", filepath.Join(d.dir, "big.bin"))
	// Not timed: the bytes read back must be the bytes written.
	if _, ok := b.vals["coffer_read"]; ok {
		if err := b.run("coffer-read-cmp", nil, "cmp", b.src, filepath.Join(d.dir, "big.bin")); err != nil {
			delete(b.vals, "coffer_read")
			b.fail("coffer_read", "the snapshot's big.bin differs from what was written: "+err.Error())
		}
	}
	if err := b.cofferUmount(d, nil); err != nil {
		b.warn(err.Error())
	}
}

func (b *bench) coldRead(key, path string) {
	if _, err := os.Stat(path); err != nil {
		b.fail(key, "nothing was written to read back")
		return
	}
	b.dropCaches()
	if s, ok := b.timed(key+"_s", b.cmdStep(key, nil, "dd", "if="+path, "of=/dev/null", "bs=1M", "status=none")); ok {
		b.set(key, mibps(b.cfg.sizeMB, s))
	} else {
		b.fail(key, b.fails[key+"_s"])
	}
}

func (b *bench) coldLs(key, dir string) {
	if _, err := os.Stat(dir); err != nil {
		b.fail(key, "no tree was copied to list")
		return
	}
	b.dropCaches()
	b.timed(key, b.cmdStep(key, nil, "sh", "-c", `exec ls -lR "$1" >/dev/null`, "ls", dir))
}
