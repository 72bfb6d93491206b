package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunTwice runs scripts/run.sh (what `make run` runs) twice on one
// run directory: each run must mount, stop cleanly with exit 0 on Ctrl-C
// (SIGINT), and the second must reuse the repository the first created,
// showing the file the first one wrote.
func TestMakeRunTwice(t *testing.T) {
	tool(t, "bash")
	script, err := filepath.Abs("../scripts/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(t.TempDir(), "run")
	home := t.TempDir()
	env := append(os.Environ(), "COFFER_RUN_DIR="+runDir, "HOME="+home,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"TMPDIR="+t.TempDir())
	mnt := filepath.Join(runDir, "mnt")
	note := filepath.Join(mnt, "note")

	for round := 1; round <= 2; round++ {
		logPath := filepath.Join(t.TempDir(), "run.log")
		runScript(t, script, env, mnt, logPath, func() {
			if round == 1 {
				if err := os.WriteFile(note, []byte("from the first run\n"), 0o644); err != nil {
					t.Fatalf("writing into the mount: %v", err)
				}
				return
			}
			data, err := os.ReadFile(note)
			if err != nil || string(data) != "from the first run\n" {
				t.Fatalf("the second run does not show the first run's file: %q, %v", data, err)
			}
		})
	}
}

// runScript starts run.sh, waits until it has mounted mnt, calls during,
// then stops it as Ctrl-C would and checks that it exits 0 and unmounts.
func runScript(t *testing.T, script string, env []string, mnt, logPath string, during func()) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, cofferBin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	readLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if isMounted(t, mnt) {
			_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		if t.Failed() {
			t.Logf("run.sh output:\n%s", clip(readLog()))
		}
	}()

	deadline := time.Now().Add(mountTimeout)
	for !strings.Contains(readLog(), "coffer: mounted "+mnt) || !isMounted(t, mnt) {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("run.sh exited before mounting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run.sh had not mounted %s after %v", mnt, mountTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	during()

	// The script execs coffer, so its PID is the daemon's: Ctrl-C.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("run.sh stopped by SIGINT: %v, want exit 0", err)
		}
	case <-time.After(longTimeout):
		t.Fatalf("run.sh still running %v after SIGINT", longTimeout)
	}
	if isMounted(t, mnt) {
		t.Fatalf("%s still mounted after run.sh exited", mnt)
	}
}
