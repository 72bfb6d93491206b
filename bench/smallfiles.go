package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The small-file figures: rclone's crypt mount for figure 2, the Python
// creation loop (7), FUSE requests per file (8), and the big write's peak
// memory (5).

func (b *bench) rcloneUp() (*peer, error) {
	if !b.wants("rclone") {
		return nil, errors.New("skipped (-skip rclone)")
	}
	if _, err := exec.LookPath("rclone"); err != nil {
		return nil, errors.New("rclone not installed")
	}
	obscured, err := exec.Command("rclone", "obscure", "bench-passphrase").Output()
	if err != nil {
		return nil, fmt.Errorf("rclone obscure: %v", err)
	}
	conf := filepath.Join(b.work, "rclone.conf")
	cipherDir, cache, mnt := filepath.Join(b.work, "rclone.cipher"), filepath.Join(b.work, "rclone.cache"), filepath.Join(b.work, "rclone.mnt")
	_ = os.MkdirAll(cipherDir, 0o755)
	_ = os.MkdirAll(cache, 0o755)
	text := fmt.Sprintf("[benchcrypt]\ntype = crypt\nremote = %s\npassword = %s\n", cipherDir, strings.TrimSpace(string(obscured)))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b.rcloneRC = fmt.Sprintf("http://127.0.0.1:%d/", port)
	d, err := b.mountFUSE("rclone", mnt, nil, "rclone", "--config", conf, "mount", "benchcrypt:", mnt,
		"--vfs-cache-mode", "writes", "--vfs-write-back", "1s", "--cache-dir", cache,
		"--rc", "--rc-addr", fmt.Sprintf("127.0.0.1:%d", port), "--rc-no-auth")
	if err != nil {
		return nil, err
	}
	return &peer{key: "rc", dir: mnt, d: d}, nil
}

// rcloneFlushed waits until rclone's VFS cache has uploaded everything, so
// that rclone's time, like the others', ends when the copy is stored.
func (b *bench) rcloneFlushed() error {
	for {
		out, err := exec.CommandContext(b.ctx, "rclone", "rc", "--url", b.rcloneRC, "vfs/stats").Output()
		if err != nil {
			return fmt.Errorf("rclone rc vfs/stats: %v", err)
		}
		var stats struct {
			DiskCache *struct {
				UploadsInProgress *int `json:"uploadsInProgress"`
				UploadsQueued     *int `json:"uploadsQueued"`
			} `json:"diskCache"`
		}
		if err := json.Unmarshal(out, &stats); err != nil || stats.DiskCache == nil ||
			stats.DiskCache.UploadsInProgress == nil || stats.DiskCache.UploadsQueued == nil {
			return fmt.Errorf("cannot read uploads from vfs/stats: %.200s", out)
		}
		if *stats.DiskCache.UploadsInProgress+*stats.DiskCache.UploadsQueued == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pythonLoop creates n files of 64 bytes, 1,000 to a directory, one
// open-write-close each, as a program that makes many small files does.
const pythonLoop = `
import os, sys
top, n, data = sys.argv[1], int(sys.argv[2]), b"x" * 64
for i in range(n):
    d = os.path.join(top, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.mkdir(d)
    with open(os.path.join(d, "f%07d" % i), "wb") as f:
        f.write(data)
`

func (b *bench) pythonStep(name, dst string) func() error {
	return func() error {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		return b.run(name, nil, "python3", "-c", pythonLoop, dst, strconv.Itoa(b.cfg.tiny))
	}
}

// figTiny: 7. the Python loop makes tiny files, then they are made
// durable: sync for the peers, coffer snapshot for coffer (in a mount of
// its own, which also counts its FUSE requests).
func (b *bench) figTiny(l *local) {
	b.say("7. create %d files of 64 bytes", b.cfg.tiny)
	for _, p := range l.peers {
		dst := filepath.Join(p.dir, "tiny")
		if p.key == "plain" {
			// The loop alone too: what the page cache makes of it.
			if loop, ok := b.timed("plain_tiny_loop", b.pythonStep("plain-tiny", dst)); ok {
				t0 := time.Now()
				_ = b.syncStep()
				b.set("plain_tiny", loop+time.Since(t0).Seconds())
			}
			continue
		}
		b.timed(p.key+"_tiny", b.pythonStep(p.key+"-tiny", dst), b.syncStep)
	}
	b.counted(l, "req_python", "coffer_tiny", b.cfg.tiny, func(mnt string) []func() error {
		return []func() error{b.pythonStep("coffer-tiny", filepath.Join(mnt, "tiny"))}
	})
	b.memTiny()
}

// memTiny times the loop of figure 7 in bench/memfs: the floor of the
// round trips alone, nothing stored.
func (b *bench) memTiny() {
	m, err := b.memUp()
	if err != nil {
		b.fail("mem_tiny", err.Error())
		return
	}
	defer b.unmountFUSE(m.d)
	b.timed("mem_tiny", b.pythonStep("mem-tiny", filepath.Join(m.dir, "tiny")))
}

// memUp builds and mounts bench/memfs, which asks the kernel for what
// coffer's head asks and answers at once, keeping everything in memory.
func (b *bench) memUp() (*peer, error) {
	bin := filepath.Join(b.work, "memfs")
	if err := b.run("memfs-build", nil, "go", "build", "-o", bin, "coffer/bench/memfs"); err != nil {
		return nil, err
	}
	mnt := filepath.Join(b.work, "memfs.mnt")
	d, err := b.mountFUSE("memfs", mnt, nil, bin, mnt)
	if err != nil {
		return nil, err
	}
	return &peer{key: "mem", dir: mnt, d: d}, nil
}

// figRequests: 8. FUSE requests per file of the tree that rsync -a, tar x
// and cp -a make coffer serve, each into a fresh mount.
func (b *bench) figRequests(l *local) {
	b.say("8. FUSE requests per file")
	archive := filepath.Join(b.work, "tree.tar")
	if err := b.run("tree-tar", nil, "tar", "-C", b.cfg.tree, "-cf", archive, "."); err != nil {
		b.fail("req_tar", err.Error())
	}
	b.counted(l, "req_rsync", "", b.treeFiles, func(mnt string) []func() error {
		return []func() error{b.rsyncStep("req-rsync", filepath.Join(mnt, "rsync"))}
	})
	if _, failed := b.fails["req_tar"]; !failed {
		b.counted(l, "req_tar", "", b.treeFiles, func(mnt string) []func() error {
			dst := filepath.Join(mnt, "tar")
			return []func() error{func() error { return os.Mkdir(dst, 0o755) },
				b.cmdStep("req-tar", nil, "tar", "-C", dst, "-xf", archive)}
		})
	}
	b.counted(l, "req_cp", "", b.treeFiles, func(mnt string) []func() error {
		return []func() error{b.cmdStep("req-cp", nil, "cp", "-a", b.cfg.tree+"/.", filepath.Join(mnt, "cp"))}
	})
	b.loopbackCPU()
}

// loopbackCPU measures what go-fuse's loopback daemon spends on the
// processor per file of the rsync of figure 8, in a mount of its own: the
// floor coffer's daemon (cpu_rsync_coffer) is held against.
func (b *bench) loopbackCPU() {
	if !b.wants("loopback") {
		b.fail("cpu_rsync_lb", "skipped (-skip loopback)")
		return
	}
	p, err := b.loopbackUp()
	if err != nil {
		b.fail("cpu_rsync_lb", err.Error())
		return
	}
	defer b.unmountFUSE(p.d)
	dst := filepath.Join(p.dir, "req-rsync") // kept to the end: see keptTrees
	cpu, err := b.cpuOf(p.d, b.rsyncStep("req-rsync-lb", dst))
	if err != nil {
		b.fail("cpu_rsync_lb", err.Error())
		return
	}
	b.set("cpu_rsync_lb", cpu.Seconds()*1e3/float64(b.treeFiles))
}

// cpuOf runs step and returns the processor time (user and system) that
// daemon d spent meanwhile.
func (b *bench) cpuOf(d *daemon, step func() error) (time.Duration, error) {
	before, err := processCPU(d.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	if err := step(); err != nil {
		return 0, err
	}
	after, err := processCPU(d.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// processCPU is the processor time (user and system, all threads) process
// pid has used so far.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcCPU(string(data))
}

// userHZ is the unit of the times in /proc/PID/stat: Linux reports them
// in ticks of 1/100 s whatever its internal clock.
const userHZ = 100

// parseProcCPU reads utime and stime from the text of /proc/PID/stat.
// They are its 14th and 15th fields; the 2nd, the command name in
// parentheses, may hold spaces, so the count starts after its ")".
func parseProcCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %v", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// counted runs a workload in a fresh coffer mount of a fresh repository
// with COFFER_FUSE_COUNTS set, and records the requests per file under
// reqKey; with timeKey set, the workload and a snapshot are timed under
// it. A coffer without the counter gives n/a.
func (b *bench) counted(l *local, reqKey, timeKey string, files int, work func(mnt string) []func() error) {
	keys := []string{reqKey}
	if timeKey != "" {
		keys = append(keys, timeKey)
	}
	if l.cofferDown != "" {
		b.failAll("coffer: FAILED ("+l.cofferDown+")", keys...)
		return
	}
	name := strings.ReplaceAll(reqKey, "_", "-")
	repo, mnt := filepath.Join(b.work, name+".repo"), filepath.Join(b.work, name+".mnt")
	countsFile := filepath.Join(b.work, name+".counts.json")
	if err := b.run(name+"-init", nil, b.cfg.coffer, "init", "--repo", repo, "--key-file", b.key); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	env := []string{"COFFER_FUSE_COUNTS=" + countsFile}
	d, err := b.cofferMount(name+"-mount", mnt, env, "--repo", repo)
	if err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	steps := work(mnt)
	if timeKey != "" {
		steps = append(steps, b.snapshotStep(d, nil))
	}
	stepsKey := reqKey + "_s"
	cpu0, cpuErr := processCPU(d.cmd.Process.Pid)
	_, ok := b.timed(stepsKey, steps...)
	cpu1, err := processCPU(d.cmd.Process.Pid)
	if cpuErr == nil {
		cpuErr = err
	}
	if timeKey != "" {
		if ok {
			b.set(timeKey, b.vals[stepsKey])
		} else {
			b.fail(timeKey, b.fails[stepsKey])
		}
	}
	if err := b.cofferUmount(d, env); err != nil {
		b.warn(err.Error())
	}
	_ = os.RemoveAll(repo)
	if !ok {
		b.fail(reqKey, b.fails[stepsKey])
		return
	}
	counts, ok := b.setCounts(reqKey, countsFile, files)
	if !ok {
		return
	}
	if n := requests(counts); cpuErr == nil && n > 0 {
		cpu := cpu1 - cpu0
		perReq := cpu.Seconds() * 1e6 / float64(n)
		b.notes[reqKey] += fmt.Sprintf("; daemon CPU %s µs/request", format(perReq))
		if reqKey == "req_rsync" {
			b.set("cpu_req_rsync", perReq)
			b.set("cpu_rsync_coffer", cpu.Seconds()*1e3/float64(files))
		}
	} else if reqKey == "req_rsync" {
		b.failAll(fmt.Sprintf("daemon CPU not read: %v", cpuErr), "cpu_req_rsync", "cpu_rsync_coffer")
	}
}

// setCounts reads the request counts a daemon wrote at exit to
// countsFile and records them per file under reqKey, with their breakdown
// beside it; it reports whether there were counts.
func (b *bench) setCounts(reqKey, countsFile string, files int) (map[string]uint64, bool) {
	data, err := os.ReadFile(countsFile)
	if errors.Is(err, os.ErrNotExist) {
		b.fail(reqKey, "n/a: this coffer does not count FUSE requests (COFFER_FUSE_COUNTS)")
		return nil, false
	}
	var counts map[string]uint64
	if err == nil {
		err = json.Unmarshal(data, &counts)
	}
	if err != nil {
		b.fail(reqKey, "request counts: "+err.Error())
		return nil, false
	}
	total, detail := perFile(counts, files)
	b.set(reqKey, total)
	b.notes[reqKey] = detail
	return counts, true
}

// figBig: 5. the daemon's peak memory while writing bigMB, in a daemon and
// repository of its own.
func (b *bench) figBig(l *local) {
	b.say("5. peak RSS writing %d MiB", b.cfg.bigMB)
	keys := []string{"rss_big", "coffer_big_write"}
	if l.cofferDown != "" {
		b.failAll("coffer: FAILED ("+l.cofferDown+")", keys...)
		return
	}
	big, err := b.makeSource(b.cfg.bigMB)
	if err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	repo := filepath.Join(b.work, "coffer-big.repo")
	if err := b.run("coffer-big-init", nil, b.cfg.coffer, "init", "--repo", repo, "--key-file", b.key); err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	d, err := b.cofferMount("coffer-big-mount", filepath.Join(b.work, "coffer-big.mnt"), nil, "--repo", repo)
	if err != nil {
		b.failAll(err.Error(), keys...)
		return
	}
	warm(big)
	if s, ok := b.timed("coffer_big_write_s",
		b.cmdStep("coffer-big-write", nil, "dd", "if="+big, "of="+filepath.Join(d.dir, "big.bin"), "bs=1M", "conv=fsync", "status=none"),
		b.snapshotStep(d, nil)); ok {
		b.set("coffer_big_write", mibps(b.cfg.bigMB, s))
		b.set("rss_big", d.hwmMiB())
	} else {
		b.failAll(b.fails["coffer_big_write_s"], keys...)
	}
	if err := b.cofferUmount(d, nil); err != nil {
		b.warn(err.Error())
	}
	_ = os.RemoveAll(repo)
}
