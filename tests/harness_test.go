// Package tests holds coffer's end-to-end suite: the real binary, mounted
// in its own process, driven by real tools (rsync, GNU tar, shell
// redirection, pg_dump), with trees compared byte for byte and metadata for
// metadata. Every test runs against both backends: a local directory and a
// versitygw S3 server with an object-locked bucket.
//
// This file is the shared harness: building or finding the binary, starting
// a backend, key generation, init, mount, snapshot, umount and the cleanup
// that always leaves the machine unmounted.
package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cofferBin is the binary under test: $COFFER_BIN, or one TestMain builds.
var cofferBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	cofferBin = os.Getenv("COFFER_BIN")
	if cofferBin == "" {
		dir, err := os.MkdirTemp("", "coffer-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "tests:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cofferBin = filepath.Join(dir, "coffer")
		build := exec.Command("go", "build", "-o", cofferBin, "./cmd/coffer")
		build.Dir = ".." // the module root: this package lives in tests/
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "tests: building coffer:", err)
			return 1
		}
	}
	if _, err := os.Stat(cofferBin); err != nil {
		fmt.Fprintln(os.Stderr, "tests: COFFER_BIN:", err)
		return 1
	}
	return m.Run()
}

// Timeouts for the commands the tests run. Generous: a slow CI machine must
// not fail on them, a hung daemon must.
const (
	shortTimeout = 60 * time.Second
	longTimeout  = 5 * time.Minute
	mountTimeout = 30 * time.Second
)

// tool returns the absolute path of a program the test needs. A missing tool
// is a failure, never a skip.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("required tool %q not found in PATH (run `make deps`): %v", name, err)
	}
	return p
}

// result is what a finished command left behind.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err=%v\nstdout:\n%s\nstderr:\n%s", r.err, clip(r.stdout), clip(r.stderr))
}

// exitCode is the command's exit status, or -1 if it did not exit normally.
func (r result) exitCode() int {
	if r.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func clip(s string) string {
	const max = 16 << 10
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// run runs a program to completion with a timeout; env entries are added to
// (and override) the test's environment.
func run(t testing.TB, timeout time.Duration, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, timeout, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t testing.TB, timeout time.Duration, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t, timeout, env, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), r)
	}
	return r
}

// sh runs a shell command line.
func sh(t testing.TB, timeout time.Duration, script string) result {
	t.Helper()
	return run(t, timeout, nil, tool(t, "sh"), "-c", script)
}

// backend is where a repository lives.
type backend struct {
	name     string
	repoURL  string   // --repo value
	flags    []string // extra flags for commands that open the repository
	env      []string // extra environment for every coffer process
	dataDirs []string // every directory holding the backend's bytes
}

// backendNames are the backends every end-to-end test runs against. A
// developer may narrow them with COFFER_E2E_BACKENDS=local (comma-separated)
// while iterating; CI leaves it unset and runs both.
func backendNames() []string {
	if v := os.Getenv("COFFER_E2E_BACKENDS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"local", "s3"}
}

// forEachBackend runs fn as one subtest per backend, each with a fresh,
// empty store.
func forEachBackend(t *testing.T, fn func(t *testing.T, be *backend)) {
	for _, name := range backendNames() {
		t.Run(name, func(t *testing.T) {
			fn(t, newBackend(t, name))
		})
	}
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	switch name {
	case "local":
		dir := filepath.Join(t.TempDir(), "repo")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return &backend{name: name, repoURL: dir, dataDirs: []string{dir}}
	case "s3":
		return newS3Backend(t)
	}
	t.Fatalf("unknown backend %q", name)
	return nil
}

// repo is an initialised coffer repository and the scratch space of the
// test that uses it.
type repo struct {
	be      *backend
	scratch string // private scratch directory
	keyFile string
	home    string // HOME and XDG dirs of every coffer process
	id      string // what init printed
}

// newRepo generates a key and initialises a repository on be, passing
// initArgs to init.
func newRepo(t *testing.T, be *backend, initArgs ...string) *repo {
	t.Helper()
	r := newKeyedRepo(t, be)
	res := r.mustCoffer(t, longTimeout, append(append([]string{"init"}, initArgs...), r.repoArgs()...)...)
	r.id = strings.TrimSpace(res.stdout)
	if r.id == "" {
		t.Fatalf("coffer init printed no repository ID: %v", res)
	}
	return r
}

// newKeyedRepo generates a key for a repository on be that it leaves
// uninitialised.
func newKeyedRepo(t *testing.T, be *backend) *repo {
	t.Helper()
	scratch := t.TempDir()
	r := &repo{
		be:      be,
		scratch: scratch,
		keyFile: filepath.Join(scratch, "key"),
		home:    filepath.Join(scratch, "home"),
	}
	if err := os.MkdirAll(filepath.Join(r.home, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	r.mustCoffer(t, shortTimeout, "key", "generate", r.keyFile)
	fi, err := os.Stat(r.keyFile)
	if err != nil {
		t.Fatalf("key generate wrote no key file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
	return r
}

// env is the environment of every coffer process: the backend's variables
// and a private HOME, XDG dirs and TMPDIR, so that caches and staging files
// land where the test can see (and scan) them.
func (r *repo) env() []string {
	e := append([]string(nil), r.be.env...)
	return append(e,
		"HOME="+r.home,
		"XDG_CACHE_HOME="+filepath.Join(r.home, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(r.home, ".config"),
		"TMPDIR="+filepath.Join(r.home, "tmp"),
	)
}

// repoArgs are the flags that name and unlock the repository.
func (r *repo) repoArgs() []string {
	a := []string{"--repo", r.be.repoURL, "--key-file", r.keyFile}
	return append(a, r.be.flags...)
}

func (r *repo) coffer(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	return run(t, timeout, r.env(), cofferBin, args...)
}

func (r *repo) mustCoffer(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	res := r.coffer(t, timeout, args...)
	if res.err != nil {
		t.Fatalf("coffer %s: %v", strings.Join(args, " "), res)
	}
	return res
}

// snapInfo is one element of `coffer snapshots --json`.
type snapInfo struct {
	ID    string   `json:"id"`
	Time  string   `json:"time"`
	Host  string   `json:"host"`
	Tags  []string `json:"tags"`
	Files int64    `json:"files"`
	Size  int64    `json:"size"`
}

// snapshots lists the repository's snapshots through the CLI.
func (r *repo) snapshots(t testing.TB) []snapInfo {
	t.Helper()
	args := append([]string{"snapshots"}, r.repoArgs()...)
	res := r.mustCoffer(t, shortTimeout, append(args, "--json")...)
	var list []snapInfo
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("coffer snapshots --json: %v\n%s", err, res)
	}
	return list
}

// mount is one running `coffer mount` daemon.
type mount struct {
	r       *repo
	dir     string
	logPath string // the daemon's stdout and stderr
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the daemon has exited
	exitErr error         // valid after exited is closed
}

// mount starts a daemon on a new mountpoint and waits until it serves.
func (r *repo) mount(t *testing.T, extra ...string) *mount {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := r.startMount(t, dir, extra...)
	m.waitReady(t)
	return m
}

// startMount starts `coffer mount` on dir without waiting for it. The
// cleanup it registers always leaves dir unmounted and the daemon gone.
func (r *repo) startMount(t *testing.T, dir string, extra ...string) *mount {
	t.Helper()
	logf, err := os.CreateTemp(r.scratch, "daemon-*.log")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"mount"}, r.repoArgs()...)
	args = append(args, extra...)
	args = append(args, dir)
	cmd := exec.Command(cofferBin, args...)
	cmd.Env = append(os.Environ(), r.env()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	m := &mount{r: r, dir: dir, logPath: logf.Name(), cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting coffer mount: %v", err)
	}
	logf.Close()
	go func() {
		m.exitErr = cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() { m.cleanup(t) })
	return m
}

// cleanup unmounts (lazily, so nothing can hold it) and makes sure this
// daemon, and only this daemon, is gone. On failure it prints the log.
func (m *mount) cleanup(t *testing.T) {
	if !m.hasExited() {
		// A clean stop first, so the daemon gets to release what it holds.
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(20 * time.Second):
			t.Errorf("daemon pid %d ignored SIGTERM for 20s; detaching and killing it", m.cmd.Process.Pid)
		}
	}
	if isMounted(t, m.dir) {
		if err := syscall.Unmount(m.dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("umount -l %s: %v", m.dir, err)
		}
	}
	if !m.hasExited() {
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	if t.Failed() {
		t.Logf("daemon log (%s):\n%s", m.dir, clip(m.log()))
	}
}

func (m *mount) hasExited() bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

func (m *mount) log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(reading daemon log: %v)", err)
	}
	return string(b)
}

// waitReady waits for the daemon to announce the mount and for the kernel to
// show it, failing if the daemon dies first.
func (m *mount) waitReady(t *testing.T) {
	t.Helper()
	want := "coffer: mounted " + m.dir
	deadline := time.Now().Add(mountTimeout)
	for {
		announced := strings.Contains(m.log(), want)
		if announced && isMounted(t, m.dir) {
			if _, err := os.Stat(m.dir); err == nil {
				return
			}
		}
		if m.hasExited() {
			t.Fatalf("coffer mount exited before serving: %v\nlog:\n%s", m.exitErr, clip(m.log()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("coffer mount not ready after %v (announced=%v, in mountinfo=%v)\nlog:\n%s",
				mountTimeout, announced, isMounted(t, m.dir), clip(m.log()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExit waits for the daemon to exit and returns its exit error.
func (m *mount) waitExit(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-m.exited:
		return m.exitErr
	case <-time.After(timeout):
		t.Fatalf("daemon pid %d still running %v after it was asked to stop\nlog:\n%s",
			m.cmd.Process.Pid, timeout, clip(m.log()))
		return nil
	}
}

// snapshot commits the head and returns the snapshot ID.
func (m *mount) snapshot(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"snapshot", m.dir}, extra...)
	res := m.r.coffer(t, longTimeout, args...)
	if res.err != nil {
		t.Fatalf("coffer snapshot: %v", res)
	}
	id := strings.TrimSpace(res.stdout)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("coffer snapshot printed %q, want one snapshot ID", res.stdout)
	}
	return id
}

// umount asks the daemon to commit and unmount, and checks that it exits 0
// and the mount is gone.
func (m *mount) umount(t *testing.T) {
	t.Helper()
	res := m.r.coffer(t, longTimeout, "umount", m.dir)
	if res.err != nil {
		t.Fatalf("coffer umount: %v", res)
	}
	if err := m.waitExit(t, longTimeout); err != nil {
		t.Fatalf("daemon exited with %v after coffer umount", err)
	}
	if isMounted(t, m.dir) {
		t.Fatalf("%s still mounted after coffer umount", m.dir)
	}
}

// snapshotDirs lists the snapshot directories under MNT/.snapshots (without
// "latest"), oldest first.
func snapshotDirs(t *testing.T, mnt string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(mnt, ".snapshots"))
	if err != nil {
		t.Fatalf("reading .snapshots: %v", err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "latest" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// snapshotNameRE is the documented shape of a snapshot's directory name.
var snapshotNameRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(\.\d+)?Z`)

// newSnapshotDir returns the one snapshot directory not in before.
func newSnapshotDir(t *testing.T, mnt string, before []string) string {
	t.Helper()
	old := map[string]bool{}
	for _, n := range before {
		old[n] = true
	}
	var added []string
	for _, n := range snapshotDirs(t, mnt) {
		if !old[n] {
			added = append(added, n)
		}
	}
	if len(added) != 1 {
		t.Fatalf(".snapshots gained %q after one snapshot, want exactly one new directory", added)
	}
	if !snapshotNameRE.MatchString(added[0]) {
		t.Errorf("snapshot directory %q is not a UTC time like 2026-11-28T22-05-01Z", added[0])
	}
	return added[0]
}

// isMounted reports whether dir is a mountpoint in /proc/self/mountinfo.
func isMounted(t testing.TB, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mountinfo: %v", err)
	}
	defer f.Close()
	want := filepath.Clean(dir)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == want {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// child is a helper process the test started.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// startChild starts a helper process that the test kills (by its PID) in
// cleanup if it is still running.
func startChild(t *testing.T, name string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(name, args...), done: make(chan struct{})}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)
	return c
}

// kill ends the child and waits for it.
func (c *child) kill() {
	select {
	case <-c.done:
	default:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *child) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}
