package tests

// The harness of the prune tests (prune_e2e_test.go): a versitygw with the
// administrator/server split of issue 7, repositories with delays of
// seconds, the administrator's prune, every version in the bucket, and a
// tree that changes from snapshot to snapshot.
//
//	site := newPruneSite(t)            // gateway, bucket, server user under the server policy
//	r := site.newRepo(t)               // coffer runs as the server; prune may run as root
//	res, rep := r.prune(t, true)       // --admin-profile: root's keys
//	reps := r.pruneUntilSettled(t, d)  // again until nothing is locked or left to do

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// The repository settings of the prune tests, through
// --unsafe-short-delays: a request matures after pruneDelay, a plan waits
// pruneMargin, and an object a snapshot needs is locked about 1.5 ×
// pruneRetention from that snapshot (the retention must exceed the delay).
const (
	pruneRetention = 12 * time.Second
	pruneDelay     = 6 * time.Second
	pruneMargin    = 2 * time.Second
	// lockLapse is how long after the last snapshot needing an object its
	// lock has surely lapsed: 1.5 R, and a second for the store's clock.
	lockLapse = pruneRetention*3/2 + time.Second
	// sessionSlack is how much older than an open session's window a pack
	// must be for prune to touch it (prune/safety.go's packSlack), with
	// two seconds to spare.
	sessionSlack = 62 * time.Second
)

// pruneInitArgs are init's flags for those settings.
func pruneInitArgs() []string {
	return []string{"--retention", fmt.Sprint(int(pruneRetention.Seconds())) + "s",
		"--deletion-delay", fmt.Sprint(int(pruneDelay.Seconds())) + "s",
		"--prune-margin", fmt.Sprint(int(pruneMargin.Seconds())) + "s",
		"--unsafe-short-delays"}
}

// adminProfile is the AWS profile in each prune repository's private HOME
// that holds the administrator's keys (the gateway's root account).
const adminProfile = "coffer-admin"

// pruneSite is a versitygw with IAM, one object-locked bucket owned by
// root (the administrator), and a server account that reaches the bucket
// only through `coffer policy --role server --for versitygw`.
type pruneSite struct {
	gw     *iamGateway
	bucket string
	server creds
	repos  int
}

// gatewayStarts makes the parallel prune tests start their gateways one
// at a time: startIAMGateway picks a free port, closes it and lets the
// gateway bind it, and two tests starting at once have drawn the same one
// ("address already in use").
var gatewayStarts sync.Mutex

func newPruneSite(t *testing.T) *pruneSite {
	t.Helper()
	gw := func() *iamGateway {
		gatewayStarts.Lock()
		defer gatewayStarts.Unlock() // t.Fatal in the start runs it too
		return startIAMGateway(t)
	}()
	s := &pruneSite{gw: gw, bucket: gw.newBucket(t, true), server: gw.createUser(t, "server"+randHex(3))}
	return s
}

// newRepo initialises a repository at a new prefix of the site's bucket as
// the server, under the server policy for that prefix, and gives its HOME
// the administrator's profile. A bucket has one policy, so the latest
// repository is the one the server can reach.
func (s *pruneSite) newRepo(t *testing.T) *repo {
	t.Helper()
	s.repos++
	prefix := fmt.Sprintf("host%d", s.repos)
	doc := mustRun(t, shortTimeout, nil, cofferBin, "policy", "--repo", "s3://"+s.bucket+"/"+prefix,
		"--principal", s.server.access, "--role", "server", "--for", "versitygw", "--allow-http").stdout
	s.gw.putPolicy(t, s.bucket, doc)
	r := newRepo(t, s.gw.backend(s.bucket, prefix, s.server), pruneInitArgs()...)
	s.writeAdminProfile(t, r)
	return r
}

// newRootRepo initialises a repository as root in a bucket of its own,
// for comparisons (a fresh repository holding what prune kept).
func (s *pruneSite) newRootRepo(t *testing.T) *repo {
	t.Helper()
	bucket := s.gw.newBucket(t, true)
	return newRepo(t, s.gw.backend(bucket, "fresh", s.gw.root), pruneInitArgs()...)
}

// writeAdminProfile puts root's keys in r's ~/.aws/credentials as
// adminProfile; the server's keys stay in r's environment.
func (s *pruneSite) writeAdminProfile(t *testing.T, r *repo) {
	t.Helper()
	dir := filepath.Join(r.home, ".aws")
	must(t, os.MkdirAll(dir, 0o700))
	body := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		adminProfile, s.gw.root.access, s.gw.root.secret)
	writeFile(t, filepath.Join(dir, "credentials"), []byte(body), 0o600)
}

// bucketVersion is one version or delete marker under a repository.
type bucketVersion struct {
	Key, ID string
	Size    int64
	Marker  bool
}

// versionsOf lists, as root, every version and delete marker of the
// repository r, sorted.
func (s *pruneSite) versionsOf(t *testing.T, r *repo) []bucketVersion {
	t.Helper()
	bucket, prefix := bucketOf(t, r.be)
	ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
	defer cancel()
	var out []bucketVersion
	p := awss3.NewListObjectVersionsPaginator(s.gw.client(s.gw.root), &awss3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("listing the versions under %s/%s: %v", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			out = append(out, bucketVersion{Key: strings.TrimPrefix(aws.ToString(v.Key), prefix+"/"),
				ID: aws.ToString(v.VersionId), Size: aws.ToInt64(v.Size)})
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, bucketVersion{Key: strings.TrimPrefix(aws.ToString(m.Key), prefix+"/"),
				ID: aws.ToString(m.VersionId), Marker: true})
		}
	}
	slices.SortFunc(out, func(a, b bucketVersion) int {
		return strings.Compare(a.Key+"\x00"+a.ID, b.Key+"\x00"+b.ID)
	})
	return out
}

// versionChanges lists the versions in after that before lacks, and those
// in before that after lacks.
func versionChanges(before, after []bucketVersion) (added, gone []bucketVersion) {
	for _, v := range after {
		if !slices.Contains(before, v) {
			added = append(added, v)
		}
	}
	for _, v := range before {
		if !slices.Contains(after, v) {
			gone = append(gone, v)
		}
	}
	return added, gone
}

// bucketBytes is what the versions occupy: the sum of every version's size.
func bucketBytes(vs []bucketVersion) int64 {
	var n int64
	for _, v := range vs {
		n += v.Size
	}
	return n
}

// keysUnder counts the versions of keys under prefix (such as "data/").
func keysUnder(vs []bucketVersion, prefix string) int {
	n := 0
	for _, v := range vs {
		if strings.HasPrefix(v.Key, prefix) {
			n++
		}
	}
	return n
}

// pruneLocked is an object a prune left for later.
type pruneLocked struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

// pruneReport is the part of `coffer prune --json` the tests read: the
// plans carried out and the new plan.
type pruneReport struct {
	DryRun   bool `json:"dry_run"`
	Executed []struct {
		Plans   []string      `json:"plans"`
		Removed []string      `json:"removed"`
		Packs   int           `json:"packs"`
		Bytes   int64         `json:"bytes"`
		Indexes int           `json:"indexes"`
		Locked  []pruneLocked `json:"locked"`
	} `json:"executed"`
	Plan *struct {
		Now    time.Time `json:"now"` // the store's clock when it planned
		Remove []struct {
			ID string `json:"id"`
		} `json:"remove"`
		Packs   []json.RawMessage `json:"packs"`
		Repack  []json.RawMessage `json:"repack"`
		Indexes []string          `json:"indexes"`
		Slots   []string          `json:"slots"`
		Locked  []pruneLocked     `json:"locked"`
	} `json:"plan"`
}

// locked is every object the run left locked.
func (p pruneReport) locked() []pruneLocked {
	var out []pruneLocked
	for _, e := range p.Executed {
		out = append(out, e.Locked...)
	}
	if p.Plan != nil {
		out = append(out, p.Plan.Locked...)
	}
	return out
}

// removed is every snapshot the run removed.
func (p pruneReport) removed() []string {
	var out []string
	for _, e := range p.Executed {
		out = append(out, e.Removed...)
	}
	return out
}

// planned lists the snapshots the new plan removes.
func (p pruneReport) planned() []string {
	var out []string
	if p.Plan != nil {
		for _, s := range p.Plan.Remove {
			out = append(out, s.ID)
		}
	}
	return out
}

// packsDeleted counts the packs the run deleted.
func (p pruneReport) packsDeleted() int {
	n := 0
	for _, e := range p.Executed {
		n += e.Packs
	}
	return n
}

// planEmpty: the new plan found nothing to remove.
func (p pruneReport) planEmpty() bool {
	pl := p.Plan
	return pl == nil || len(pl.Remove)+len(pl.Packs)+len(pl.Repack)+len(pl.Indexes)+len(pl.Slots) == 0
}

// pruneArgs are the arguments of `coffer prune --json` on r, with the
// administrator's profile if admin.
func (r *repo) pruneArgs(admin bool, extra ...string) []string {
	args := append([]string{"prune", "--json"}, r.repoArgs()...)
	if admin {
		args = append(args, "--admin-profile", adminProfile)
	}
	return append(args, extra...)
}

// prune runs `coffer prune --json`; with admin, as the administrator. A
// run that exits 0 must print its report.
func (r *repo) prune(t *testing.T, admin bool, extra ...string) (result, pruneReport) {
	t.Helper()
	res := r.coffer(t, longTimeout, r.pruneArgs(admin, extra...)...)
	var rep pruneReport
	if res.err == nil {
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("coffer prune --json: %v\n%v", err, res)
		}
	}
	return res, rep
}

// pruneUntilSettled prunes as the administrator until a run leaves nothing
// locked and its new plan finds nothing to do, for at most within, and
// returns every run's report.
func (r *repo) pruneUntilSettled(t *testing.T, within time.Duration) []pruneReport {
	t.Helper()
	reps, ok := r.pruneUntil(t, within, func(reps []pruneReport) bool {
		last := reps[len(reps)-1]
		return len(last.locked()) == 0 && last.planEmpty()
	})
	if !ok {
		last := reps[len(reps)-1]
		t.Fatalf("prune still leaves %d objects locked (%+v) or plans more after %v", len(last.locked()), last.locked(), within)
	}
	return reps
}

// pruneUntil prunes as the administrator until done says so, sleeping
// between runs while the earliest lock lapses, for at most within. It
// returns every run's report, and whether done was reached.
func (r *repo) pruneUntil(t *testing.T, within time.Duration, done func([]pruneReport) bool) ([]pruneReport, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	var reps []pruneReport
	for {
		start := time.Now()
		res, rep := r.prune(t, true)
		if res.err != nil {
			t.Fatalf("coffer prune as the administrator (run %d): %v", len(reps)+1, res)
		}
		reps = append(reps, rep)
		locked := rep.locked()
		t.Logf("prune run %d: %.1fs, removed %d snapshots and %d packs (%d bytes), %d objects locked",
			len(reps), time.Since(start).Seconds(), len(rep.removed()), rep.packsDeleted(), bytesOf(rep), len(locked))
		if done(reps) {
			return reps, true
		}
		if time.Now().After(deadline) {
			return reps, false
		}
		wait := time.Second
		for _, l := range locked {
			if d := time.Until(l.Until) + 500*time.Millisecond; d > wait {
				wait = min(d, 5*time.Second)
			}
		}
		time.Sleep(wait)
	}
}

func bytesOf(p pruneReport) int64 {
	var n int64
	for _, e := range p.Executed {
		n += e.Bytes
	}
	return n
}

// forget files a deletion request for snapshots (IDs) as the server.
func (r *repo) forget(t *testing.T, snapshots ...string) {
	t.Helper()
	args := append(append([]string{"forget"}, r.repoArgs()...), snapshots...)
	r.mustCoffer(t, shortTimeout, args...)
}

// checkReadData runs `coffer check --read-data`, which must find nothing,
// and returns how long it took.
func (r *repo) checkReadData(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	res := r.coffer(t, longTimeout, append([]string{"check", "--read-data"}, r.repoArgs()...)...)
	took := time.Since(start)
	if res.err != nil {
		t.Errorf("coffer check --read-data (exit %d, want 0): %v", res.exitCode(), res)
	}
	return took
}

// snapshotIDs lists the IDs `coffer snapshots` shows.
func (r *repo) snapshotIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, s := range r.snapshots(t) {
		ids = append(ids, s.ID)
	}
	return ids
}

// assertSnapshotTree mounts snapshot id alone, read-only, and compares its
// directory sub with the tree saved at want.
func (r *repo) assertSnapshotTree(t *testing.T, id, sub string, want manifest) {
	t.Helper()
	m := r.mount(t, "--snapshot", id)
	compareTrees(t, "snapshot "+id, want, scanTree(t, filepath.Join(m.dir, sub)), cmpOpts{})
	m.umount(t)
}

// startCoffer starts a coffer command on r that the test may kill; the
// cleanup kills it (by its PID) if it still runs.
func (r *repo) startCoffer(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(cofferBin, args...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), r.env()...)
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting coffer %s: %v", args[0], err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)
	return c
}

// churnTree is a source tree that changes from step to step as a server's
// files do: a stable part written once, a churning part rewritten at every
// step (bytes only that step's snapshot holds), a log that grows by one
// file a step and forgets its oldest, and a symlink to the newest log.
// Every changed entry gets a distinct mtime, so rsync's quick check never
// mistakes a change for none.
type churnTree struct {
	root string
	step int
}

const (
	churnStable    = 6 // files written at step 0 and kept
	churnFiles     = 4 // files rewritten at every step
	churnFileSize  = 256 * kib
	churnLogSize   = 64 * kib
	churnLogKeep   = 4         // log files kept
	churnStableMax = 384 * kib // stable files are 128..384 KiB
)

func newChurnTree(t *testing.T, root string) *churnTree {
	t.Helper()
	c := &churnTree{root: root, step: -1}
	c.next(t)
	return c
}

// next moves the tree to its next step.
func (c *churnTree) next(t *testing.T) {
	t.Helper()
	c.step++
	s := c.step
	rng := newRand(fmt.Sprintf("churn %s %d", c.root, s))
	p := func(rel string) string { return filepath.Join(c.root, rel) }
	mt := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s)*time.Hour + time.Duration(1000+s))
	touch := func(rel string) { must(t, lutimes(p(rel), mt, mt)) }
	if s == 0 {
		mkdirs(t, c.root, "stable", "churn", "log")
		for i := 0; i < churnStable; i++ {
			rel := fmt.Sprintf("stable/s%d", i)
			writeRandomFile(t, p(rel), int64(128*kib+rng.IntN(churnStableMax-128*kib)), rng)
			touch(rel)
		}
	} else {
		// Metadata only, on a stable file.
		must(t, os.Chmod(p(fmt.Sprintf("stable/s%d", s%churnStable)), os.FileMode(0o600+s%2*0o44)))
	}
	for i := 0; i < churnFiles; i++ {
		rel := fmt.Sprintf("churn/c%d", i)
		writeRandomFile(t, p(rel), int64(churnFileSize+s*1000+i), rng)
		touch(rel)
	}
	log := fmt.Sprintf("log/step-%02d", s)
	writeRandomFile(t, p(log), churnLogSize+int64(s), rng)
	touch(log)
	if old := s - churnLogKeep; old >= 0 {
		must(t, os.Remove(p(fmt.Sprintf("log/step-%02d", old))))
	}
	_ = os.Remove(p("newest"))
	must(t, os.Symlink(log, p("newest")))
	for _, rel := range []string{"newest", "churn", "log", "stable", "."} {
		touch(rel)
	}
}

// churnSnapshots mounts r and commits n steps of a churnTree rsynced
// into data/ (with rsync's extra flags), one snapshot a step, then
// unmounts. It returns the snapshot IDs, and a saved copy of each step's
// tree with its manifest.
func churnSnapshots(t *testing.T, r *repo, n int, extra ...string) (ids, saved []string, trees []manifest) {
	t.Helper()
	work := t.TempDir()
	tree := newChurnTree(t, filepath.Join(work, "src"))
	m := r.mount(t)
	for i := 0; i < n; i++ {
		if i > 0 {
			tree.next(t)
		}
		rsyncInto(t, tree.root, filepath.Join(m.dir, "data"), append([]string{"--delete"}, extra...)...)
		ids = append(ids, m.snapshot(t))
		dir := filepath.Join(work, fmt.Sprintf("step%02d", i))
		saved = append(saved, dir)
		trees = append(trees, tree.save(t, dir))
	}
	m.umount(t)
	return ids, saved, trees
}

// save copies the tree as it is now to dir and returns its manifest.
func (c *churnTree) save(t *testing.T, dir string) manifest {
	t.Helper()
	rsyncInto(t, c.root, dir)
	return scanTree(t, dir)
}
