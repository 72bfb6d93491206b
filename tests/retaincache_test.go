package tests

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// retentionSteps reads the "retention kept" lines of a daemon's log:
// for each retention step, how many objects were needed and extended.
func retentionSteps(t *testing.T, m *mount) [][2]int {
	t.Helper()
	re := regexp.MustCompile(`retention kept.* needed=(\d+) extended=(\d+)`)
	var steps [][2]int
	for _, g := range re.FindAllStringSubmatch(m.log(), -1) {
		n, _ := strconv.Atoi(g[1])
		e, _ := strconv.Atoi(g[2])
		steps = append(steps, [2]int{n, e})
	}
	return steps
}

// TestRetentionRemembered: a restarted daemon reads the retain-until
// dates its predecessor saved in the local state and extends only what
// was written since, not every needed object; with --cache-dir off it
// has no dates and extends every needed object once.
func TestRetentionRemembered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		putFile(t, filepath.Join(m.dir, "a", "file.txt"), []byte("kept locked\n"))
		m.snapshot(t)
		m.umount(t)

		m = r.mount(t)
		m.snapshot(t)
		m.umount(t)
		steps := retentionSteps(t, m)
		if len(steps) == 0 {
			t.Fatalf("the second daemon logged no retention step:\n%s", m.log())
		}
		t.Logf("restarted daemon, first step: %d needed, %d extended", steps[0][0], steps[0][1])
		if s := steps[0]; s[0] < 5 || s[1] >= s[0] {
			t.Fatalf("the second daemon's first step needed %d objects and extended %d; want fewer extended (the dates are remembered)", s[0], s[1])
		}

		m = r.mount(t, "--cache-dir", "off")
		m.snapshot(t)
		m.umount(t)
		steps = retentionSteps(t, m)
		if len(steps) == 0 || steps[0][1] != steps[0][0] {
			t.Fatalf("with --cache-dir off the first step did %v; want every needed object extended", steps)
		}
	})
}
