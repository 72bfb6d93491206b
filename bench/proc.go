package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// run runs one command under the step timeout, its output appended to
// logs/NAME.log. A failure's error ends with the last lines of that log.
func (b *bench) run(name string, env []string, args ...string) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.timeout)
	defer cancel()
	log, err := b.openLog(name)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "+ %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%s: timed out after %s", name, b.cfg.timeout)
		}
		return fmt.Errorf("%s: %v: %s", name, err, b.lastLines(name))
	}
	return nil
}

func (b *bench) openLog(name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(b.logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// lastLines is the end of a step's log on one line, without the "+ cmd"
// lines, for error messages.
func (b *bench) lastLines(name string) string {
	data, _ := os.ReadFile(filepath.Join(b.logs, name+".log"))
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(l, "+ ") && l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	s := strings.Join(keep, " ")
	if len(s) > 240 {
		s = s[:240]
	}
	return s
}

// timed runs steps one after the other and records their total time in
// seconds under key, or the first failure.
func (b *bench) timed(key string, steps ...func() error) (float64, bool) {
	t0 := time.Now()
	for _, step := range steps {
		if err := step(); err != nil {
			b.fail(key, err.Error())
			return 0, false
		}
	}
	s := time.Since(t0).Seconds()
	b.set(key, s)
	return s, true
}

// cmdStep is a step that runs one command.
func (b *bench) cmdStep(name string, env []string, args ...string) func() error {
	return func() error { return b.run(name, env, args...) }
}

// daemon is a FUSE daemon this program started and must stop.
type daemon struct {
	name string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// mountFUSE starts a FUSE daemon in the foreground (args), with its output
// in logs/NAME.log, and waits up to 30 s for dir to be a mount point.
func (b *bench) mountFUSE(name, dir string, env []string, args ...string) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	log, err := b.openLog(name)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "+ %s &\n", strings.Join(args, " "))
	d := &daemon{name: name, dir: dir, done: make(chan struct{})}
	d.cmd = exec.Command(args[0], args[1:]...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		log.Close()
		close(d.done)
	}()
	b.daemons = append(b.daemons, d)
	deadline := time.Now().Add(30 * time.Second)
	for !isMountPoint(dir) {
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s: exited before mounting (%v): %s", name, d.err, b.lastLines(name))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop(d)
			return nil, fmt.Errorf("%s: not mounted after 30 s", name)
		}
	}
	return d, nil
}

// wait waits up to limit for the daemon to exit; false if it is still
// running.
func (d *daemon) wait(limit time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// hwmMiB is the daemon's peak resident set (VmHWM) in MiB, 0 if unknown.
func (d *daemon) hwmMiB() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// stop ends a daemon this program started, by its PID: unmount, TERM,
// then KILL after 10 s.
func (b *bench) stop(d *daemon) {
	if isMountPoint(d.dir) {
		_ = exec.Command("fusermount3", "-u", d.dir).Run()
	}
	if d.wait(5 * time.Second) {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if d.wait(10 * time.Second) {
		return
	}
	_ = d.cmd.Process.Kill()
	d.wait(5 * time.Second)
	if isMountPoint(d.dir) {
		_ = exec.Command("fusermount3", "-uz", d.dir).Run()
	}
}

// unmountFUSE unmounts a plain FUSE daemon (loopback, gocryptfs, rclone)
// and waits for it to exit.
func (b *bench) unmountFUSE(d *daemon) {
	for i := 0; i < 20 && isMountPoint(d.dir); i++ {
		if exec.Command("fusermount3", "-u", d.dir).Run() == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !d.wait(30 * time.Second) {
		b.stop(d)
	}
}

// cofferUmount runs `coffer umount`; the daemon must then exit by itself
// with status 0 and the mount must be gone. A failing `coffer umount`
// whose daemon still exits cleanly is only a warning.
func (b *bench) cofferUmount(d *daemon, env []string) error {
	grace := b.cfg.timeout
	if err := b.run(d.name+"-umount", env, b.cfg.coffer, "umount", d.dir); err != nil {
		b.warn(err.Error() + " (unmounted with fusermount3 -u instead)")
		_ = exec.Command("fusermount3", "-u", d.dir).Run()
		grace = time.Minute
	}
	if !d.wait(grace) {
		b.stop(d)
		return fmt.Errorf("%s: daemon still running %s after coffer umount", d.name, grace)
	}
	if isMountPoint(d.dir) {
		b.stop(d)
		return fmt.Errorf("%s: still mounted after the daemon exited", d.name)
	}
	if d.err != nil {
		return fmt.Errorf("%s: the daemon exited with %v: %s", d.name, d.err, b.lastLines(d.name))
	}
	return nil
}

// isMountPoint says whether dir is a mount point, from /proc/self/mountinfo.
func isMountPoint(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// dropCaches makes the next read cold, as far as the guest's page cache
// goes; without root the figures are warm, said once.
func (b *bench) dropCaches() {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200); err != nil && !b.dropWarned {
		b.dropWarned = true
		b.warn("cannot drop caches (not root?): cold figures are warm")
	}
}

// warm reads a file or a tree so the source side of a copy is in RAM.
func warm(path string) {
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if f, err := os.Open(p); err == nil {
			_, _ = io.Copy(io.Discard, f)
			f.Close()
		}
		return nil
	})
}

// countFiles counts the regular files under dir.
func countFiles(dir string) (files int, bytes int64) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
			}
		}
		return nil
	})
	return files, bytes
}

// makeSource makes mb MiB of random data in BENCH_DIR/src once, so that the
// random generator is never what a write figure measures.
func (b *bench) makeSource(mb int) (string, error) {
	path := filepath.Join(b.cfg.dir, "src", fmt.Sprintf("random-%dM.bin", mb))
	if st, err := os.Stat(path); err == nil && st.Size() == int64(mb)<<20 {
		return path, nil
	}
	b.say("making %d MiB of random data in %s", mb, path)
	if err := b.run("make-source", nil, "dd", "if=/dev/urandom", "of="+path+".tmp", "bs=1M",
		fmt.Sprintf("count=%d", mb), "iflag=fullblock", "status=none"); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}

// errSkip marks a group of figures left out on purpose.
var errSkip = errors.New("skipped")
