package tests

// End to end, issue 8's deletion on versitygw with the administrator/server
// split: forget files requests as the server, prune runs as the
// administrator (the gateway's root, through --admin-profile), and delays,
// margins and locks are seconds (prune_harness_test.go). The tests run in
// parallel with each other: most of their time is waiting for requests to
// mature and locks to lapse.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPruneRequestDue: a request is not pruned before it is due and is
// after; a cancelled one never is; prune with the server's credentials is
// refused with exit 5 and changes no version in the bucket.
func TestPruneRequestDue(t *testing.T) {
	t.Parallel()
	site := newPruneSite(t)
	r := site.newRepo(t)
	ids, _, trees := churnSnapshots(t, r, 3)
	doomed, cancelled := ids[0], ids[1]

	asked := time.Now()
	r.forget(t, doomed, cancelled)
	r.mustCoffer(t, shortTimeout, append(append([]string{"forget", "--cancel"}, r.repoArgs()...), cancelled)...)

	// Before the delay has passed, prune leaves both. The request was
	// uploaded after asked, so it is not due while the store's clock (the
	// same machine's, in whole seconds) reads less than asked + delay.
	res, rep := r.prune(t, true)
	if res.err != nil || rep.Plan == nil {
		t.Fatalf("prune before the request is due: %v", res)
	}
	if early := asked.Add(pruneDelay).Sub(rep.Plan.Now); early > time.Second {
		if got := r.snapshotIDs(t); !slices.Contains(got, doomed) || len(rep.removed()) > 0 {
			t.Errorf("prune planning %.1fs before the request was due removed %q; snapshots now %q",
				early.Seconds(), rep.removed(), got)
		}
	} else {
		t.Logf("inconclusive: the early prune planned at %v, too close to the request's due time (after %v)",
			rep.Plan.Now, asked.Add(pruneDelay))
	}

	time.Sleep(time.Until(asked.Add(pruneDelay + time.Second)))

	// The server's credentials cannot prune, and change nothing trying.
	before := site.versionsOf(t, r)
	res, _ = r.prune(t, false)
	if res.exitCode() != 5 || !strings.HasPrefix(res.stderr, "coffer: ") {
		t.Errorf("prune with the server's credentials: exit %d, want 5 and a one-line \"coffer: \" error: %v", res.exitCode(), res)
	}
	if added, gone := versionChanges(before, site.versionsOf(t, r)); len(added)+len(gone) > 0 {
		t.Errorf("prune with the server's credentials changed the bucket: added %+v, removed %+v", added, gone)
	}

	// The administrator's dry run plans the removal and changes nothing.
	before = site.versionsOf(t, r)
	res, rep = r.prune(t, true, "--dry-run")
	if res.err != nil || !rep.DryRun || !slices.Contains(rep.planned(), doomed) || slices.Contains(rep.planned(), cancelled) {
		t.Errorf("prune --dry-run after the delay: want a dry run planning to remove %s and not %s: %v", doomed, cancelled, res)
	}
	if added, gone := versionChanges(before, site.versionsOf(t, r)); len(added)+len(gone) > 0 {
		t.Errorf("prune --dry-run changed the bucket: added %+v, removed %+v", added, gone)
	}

	// Due now: the administrator's prune removes it, and only it.
	pruneStart := time.Now()
	r.pruneUntilSettled(t, lockLapse+30*time.Second)
	t.Logf("prune as the administrator until settled: %.1fs", time.Since(pruneStart).Seconds())
	got := r.snapshotIDs(t)
	if slices.Contains(got, doomed) {
		t.Errorf("the due request's snapshot %s is still listed after prune: %q", doomed, got)
	}
	for _, id := range ids[1:] {
		if !slices.Contains(got, id) {
			t.Errorf("snapshot %s (cancelled or never requested) was pruned: %q", id, got)
		}
	}
	for _, v := range site.versionsOf(t, r) {
		if v.Key == "snapshots/"+doomed || v.Key == "retain/"+doomed {
			t.Errorf("a version of %s is left after prune: %+v", v.Key, v)
		}
	}
	recs, _ := r.auditVerify(t)
	kinds := auditKinds(recs)
	for _, k := range []string{"forget", "cancel", "prune-plan", "prune"} {
		if !slices.Contains(strings.Split(kinds, ","), k) {
			t.Errorf("no %q record in the audit log: %s", k, kinds)
		}
	}
	t.Logf("check --read-data: %.1fs", r.checkReadData(t).Seconds())
	r.assertSnapshotTree(t, cancelled, "data", trees[1])
	r.assertSnapshotTree(t, ids[2], "data", trees[2])
}

// TestPruneReclaimsSpace forgets every other one of ten snapshots of a
// changing tree and prunes until nothing is locked: the bucket's bytes are
// then within 10 % of a fresh repository holding only the kept snapshots
// (made the same way, by rsyncing the kept trees in), every kept snapshot
// reads back identical and check --read-data is clean.
func TestPruneReclaimsSpace(t *testing.T) {
	t.Parallel()
	site := newPruneSite(t)
	r := site.newRepo(t)
	ids, saved, trees := churnSnapshots(t, r, 10)
	var forgotten, keptSteps []int
	for i := range ids {
		if i%2 == 0 {
			forgotten = append(forgotten, i)
		} else {
			keptSteps = append(keptSteps, i)
		}
	}
	var request []string
	for _, i := range forgotten {
		request = append(request, ids[i])
	}
	asked := time.Now()
	r.forget(t, request...)

	// While the request matures: the fresh repository of the kept trees.
	fresh := site.newRootRepo(t)
	fm := fresh.mount(t)
	for _, i := range keptSteps {
		rsyncInto(t, saved[i], filepath.Join(fm.dir, "data"), "--delete")
		fm.snapshot(t)
	}
	fm.umount(t)
	freshBytes := bucketBytes(site.versionsOf(t, fresh))
	beforeVersions := site.versionsOf(t, r)
	before := bucketBytes(beforeVersions)

	time.Sleep(time.Until(asked.Add(pruneDelay + time.Second)))
	pruneStart := time.Now()
	reps := r.pruneUntilSettled(t, 2*time.Minute)
	pruneTook := time.Since(pruneStart)
	afterVersions := site.versionsOf(t, r)
	after := bucketBytes(afterVersions)
	t.Logf("reclaimed space: %d bytes before prune (%d packs), %d after (%d packs), fresh repository of the kept snapshots %d; after/fresh = %.3f, before/fresh = %.3f",
		before, keysUnder(beforeVersions, "data/"), after, keysUnder(afterVersions, "data/"), freshBytes,
		float64(after)/float64(freshBytes), float64(before)/float64(freshBytes))
	t.Logf("prune: %d runs, %.1fs in all (waiting for locks to lapse included)", len(reps), pruneTook.Seconds())
	if before < freshBytes*13/10 {
		t.Fatalf("the forgotten snapshots hold too little of their own (%d bytes before, %d fresh): the test proves nothing", before, freshBytes)
	}
	if diff := after - freshBytes; diff > freshBytes/10 || -diff > freshBytes/10 {
		t.Errorf("after prune the bucket holds %d bytes, not within 10%% of a fresh repository's %d", after, freshBytes)
	}

	got := r.snapshotIDs(t)
	for i, id := range ids {
		if slices.Contains(got, id) == slices.Contains(forgotten, i) {
			t.Errorf("snapshot %d (%s): listed %v after prune, forgotten %v", i, id, slices.Contains(got, id), slices.Contains(forgotten, i))
		}
	}
	t.Logf("check --read-data after prune: %.1fs", r.checkReadData(t).Seconds())
	for _, i := range keptSteps {
		r.assertSnapshotTree(t, ids[i], "data", trees[i])
	}
}

// TestPruneWithRunningDaemon prunes while a mount writes: an rsync runs
// and files are written, fsynced and closed throughout the prune. Some are
// copies of the forgotten snapshot's own files, whose blocks the daemon
// finds already stored in the very packs the prune removes: two copied
// before the prune (the daemon must move those blocks when it sees the
// plan), two again and again during it (after the plan it must store them
// anew). The snapshot taken afterwards reads back byte for byte, check
// --read-data is clean, and the prune did remove the forgotten snapshot
// and its packs while the daemon ran.
func TestPruneWithRunningDaemon(t *testing.T) {
	t.Parallel()
	site := newPruneSite(t)
	r := site.newRepo(t)
	// Step 1 rewrites every churn file: step 0's are the doomed snapshot's
	// alone, each in a pack of its own (rsync --fsync), which no later
	// commit extends.
	ids, saved, trees := churnSnapshots(t, r, 2, "--fsync")
	doomedAt := time.Now()
	doomed, kept, keptTree := ids[0], ids[1], trees[1]
	r.forget(t, doomed)

	// A mount's packs since its last commit are never pruned, nor those of
	// the minute before: the daemon commits once the doomed packs are
	// older than that, so the prune may remove them while it runs.
	time.Sleep(time.Until(doomedAt.Add(sessionSlack)))
	m2 := r.mount(t)
	m2.snapshot(t)

	more := filepath.Join(t.TempDir(), "more")
	rng := newRand(t.Name())
	mkdirs(t, more, "d")
	for i := 0; i < 16; i++ {
		writeRandomFile(t, filepath.Join(more, "d", fmt.Sprintf("f%02d", i)), 512*kib, rng)
	}
	// Old times: rsync compares them to the second, and would leave the
	// mount's own nanoseconds on a directory it made within the second.
	setTimesBottomUp(t, more, time.Date(1999, 9, 9, 9, 9, 9, 0, time.UTC))
	moreTree := scanTree(t, more)
	rs := startChild(t, tool(t, "rsync"), "-aHAX", "--bwlimit=2000", more+"/", filepath.Join(m2.dir, "more")+"/")

	// Copies of two of the doomed snapshot's churn files, written, fsynced
	// and closed before the prune: the daemon finds their blocks stored,
	// in packs the prune will remove, and must move them once it sees the
	// plan, as nothing writes those bytes again.
	churn, err := filepath.Glob(filepath.Join(saved[0], "churn", "*"))
	must(t, err)
	if len(churn) != churnFiles {
		t.Fatalf("saved churn files %q, want %d", churn, churnFiles)
	}
	wantAgain := map[string][]byte{}
	copyOnce := func(rel, from string) error {
		data, err := os.ReadFile(from)
		if err == nil {
			err = writeSynced(filepath.Join(m2.dir, rel), data)
			wantAgain[rel] = data
		}
		return err
	}
	for _, f := range churn[:2] {
		must(t, copyOnce(filepath.Join("again", "before", filepath.Base(f)), f))
	}
	// During the prune, the writer copies the other two again and again
	// (before the plan the daemon finds them stored, after it it must store
	// them anew) and writes new bytes, every file fsynced and closed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		wrng := newRand(t.Name() + " writer")
		for round := 0; ; round++ {
			for _, f := range churn[2:] {
				if err := copyOnce(filepath.Join("again", fmt.Sprint(round), filepath.Base(f)), f); err != nil {
					writeErr = err
					return
				}
			}
			rel := filepath.Join("again", fmt.Sprint(round), "new")
			data := randBytes(wrng, 64*kib)
			if err := writeSynced(filepath.Join(m2.dir, rel), data); err != nil {
				writeErr = err
				return
			}
			wantAgain[rel] = data
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// Prune until the doomed snapshot and a pack are gone: with the
	// daemon writing, new index objects keep giving plans work.
	pruneStart := time.Now()
	reps, _ := r.pruneUntil(t, 90*time.Second, func(reps []pruneReport) bool {
		removed, packs := false, 0
		for _, rep := range reps {
			removed = removed || slices.Contains(rep.removed(), doomed)
			packs += rep.packsDeleted()
		}
		return removed && packs > 0
	})
	pruneTook := time.Since(pruneStart)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writing on the mount during the prune: %v", writeErr)
	}
	if err := waitChild(t, rs, longTimeout); err != nil {
		t.Fatalf("rsync into the mount during the prune: %v", err)
	}
	t.Logf("prune with the daemon writing: %d runs, %.1fs; %d files written, fsynced and closed meanwhile",
		len(reps), pruneTook.Seconds(), len(wantAgain))
	removed, packs := 0, 0
	for _, rep := range reps {
		if slices.Contains(rep.removed(), doomed) {
			removed++
		}
		packs += rep.packsDeleted()
	}
	if removed == 0 || packs == 0 {
		t.Errorf("the prune removed the forgotten snapshot %d times and %d packs while the daemon ran: the test proves nothing", removed, packs)
	}

	after := m2.snapshot(t)
	m2.umount(t)
	t.Logf("check --read-data after the prune: %.1fs", r.checkReadData(t).Seconds())
	if ids := r.snapshotIDs(t); slices.Contains(ids, doomed) || !slices.Contains(ids, kept) {
		t.Errorf("snapshots after prune %q: want %s gone and %s kept", ids, doomed, kept)
	}
	r.assertSnapshotTree(t, kept, "data", keptTree)
	m := r.mount(t, "--snapshot", after)
	compareTrees(t, "the snapshot after the prune, data", keptTree, scanTree(t, filepath.Join(m.dir, "data")), cmpOpts{})
	compareTrees(t, "the snapshot after the prune, rsync's tree", moreTree, scanTree(t, filepath.Join(m.dir, "more")), cmpOpts{})
	checkFiles(t, m.dir, wantAgain)
	m.umount(t)
}

// writeSynced creates path (and its directory) with data, fsyncs and
// closes it.
func writeSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// TestPruneKilled kills prune with SIGKILL after short random delays,
// several times, mostly while it deletes; after each kill check finds
// every listed snapshot whole, and after a last run to the end check
// --read-data is clean and every kept snapshot reads back identical. The
// snapshots are written with rsync --fsync, a pack a file, so that
// carrying out a plan takes long enough for a kill to land in it.
func TestPruneKilled(t *testing.T) {
	t.Parallel()
	site := newPruneSite(t)
	r := site.newRepo(t)
	ids, _, trees := churnSnapshots(t, r, 6, "--fsync")
	asked := time.Now() // after the last snapshot, too
	r.forget(t, ids[0], ids[2], ids[4])

	// Once the request is due and the locks have lapsed, a first run
	// publishes its plan and returns; the runs after it carry the plan
	// out, and each is killed a random moment after the bucket shows it
	// deleting, or at a random moment if it shows nothing first.
	time.Sleep(max(time.Until(asked.Add(pruneDelay+time.Second)), time.Until(asked.Add(lockLapse))))
	start := time.Now()
	if res, rep := r.prune(t, true, "--no-wait"); res.err != nil || rep.planEmpty() {
		t.Fatalf("prune --no-wait published no plan: %v", res)
	}
	startup := time.Since(start)
	time.Sleep(pruneMargin + time.Second)
	versions := len(site.versionsOf(t, r))
	t.Logf("prune --no-wait took %v; %d versions in the bucket", startup, versions)
	for k := 0; k < 5; k++ {
		c := r.startCoffer(t, r.pruneArgs(true)...)
		began := time.Now()
		how := killWhenDeleting(t, site, r, c, versions, startup)
		now := len(site.versionsOf(t, r))
		t.Logf("kill %d, %s, %v after the start: %d versions in the bucket, were %d",
			k+1, how, time.Since(began).Round(time.Millisecond), now, versions)
		versions = now
		// Whatever the kill interrupted, every snapshot still listed has
		// all its blocks: a snapshot object goes before its packs.
		if res := r.coffer(t, longTimeout, append([]string{"check"}, r.repoArgs()...)...); res.err != nil {
			t.Errorf("coffer check after kill %d (exit %d, want 0): %v", k+1, res.exitCode(), res)
		}
	}
	r.pruneUntilSettled(t, 2*time.Minute)
	got := r.snapshotIDs(t)
	for i, id := range ids {
		if slices.Contains(got, id) != (i%2 == 1) {
			t.Errorf("snapshot %d (%s) listed %v after the prunes, want %v", i, id, slices.Contains(got, id), i%2 == 1)
		}
	}
	t.Logf("check --read-data after the killed prunes: %.1fs", r.checkReadData(t).Seconds())
	for i := 1; i < len(ids); i += 2 {
		r.assertSnapshotTree(t, ids[i], "data", trees[i])
	}
}

// killWhenDeleting kills the prune c with SIGKILL up to 200 ms after the
// bucket holds fewer than versions versions, or at a random moment between
// one and two times startup (a --no-wait run's time, by when a run has
// begun carrying out a due plan) if that does not happen first; it says
// which happened.
func killWhenDeleting(t *testing.T, site *pruneSite, r *repo, c *child, versions int, startup time.Duration) string {
	t.Helper()
	kill := func(how string) string {
		err := c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
		if err != nil || c.cmd.ProcessState.Exited() {
			return fmt.Sprintf("none: prune exited first (%v)", c.cmd.ProcessState)
		}
		return how
	}
	deadline := time.Now().Add(startup + rand.N(startup))
	for time.Now().Before(deadline) {
		if !c.running() {
			return kill("")
		}
		if len(site.versionsOf(t, r)) < versions {
			time.Sleep(rand.N(200 * time.Millisecond))
			return kill("while deleting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return kill("at a random moment")
}
