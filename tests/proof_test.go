package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"coffer/objectstore/s3/s3test"
)

// TestProof is the end-to-end proof of issue 7 on versitygw: an
// administrator creates an object-locked bucket; a server inits, retires a
// spare key, and backs up a small varied tree in three snapshots with
// rsync. Then an intruder holding the server's S3 credentials tries what
// the lock must refuse on every version of every kind of object coffer
// wrote (delete it, with and without the governance bypass, shorten or
// switch its retention) and on the bucket (suspend versioning, change the
// default lock); lands what it can (versions put over every key, delete
// markers, locked junk under index/, snapshots/ and the next audit key);
// and, holding the key too, forges a pack and an index for blocks of the
// oldest snapshot, a whole snapshot, and a revocation of the last usable
// key slot, and tampers with the audit records. Afterwards every snapshot
// restores byte-identical through coffer alone on a machine that kept
// nothing of the server's (with --as-of once a snapshot is forged), the
// head mounts, `coffer snapshots` names what it set aside, `coffer doctor`
// tells the truth about the credentials and lists what landed, and
// `coffer audit --verify` passes and names the junk, then fails naming
// the forged snapshot and the tampered record.
//
// The "user" run gives the server a versitygw user account that sees the
// bucket only through the policy `coffer policy --for versitygw` prints;
// the "owner" run gives it the bucket owner's credentials (no policy),
// the worst case: nothing is lost either.
func TestProof(t *testing.T) {
	tool(t, "rsync")
	t.Run("owner", func(t *testing.T) {
		srv := s3test.Start(t, s3test.Options{})
		bucket := srv.NewBucket(t, true)
		runProof(t, &proofSite{
			be:    s3BackendOn(srv, bucket),
			in:    newIntruder(srv.Endpoint, srv.Region, bucket, "coffer", srv.AccessKey, srv.SecretKey),
			owner: true,
		})
	})
	t.Run("user", func(t *testing.T) {
		gw := startIAMGateway(t)
		user := gw.createUser(t, "server1")
		bucket := gw.newBucket(t, true)
		policy := mustRun(t, shortTimeout, nil, cofferBin, "policy", "--repo", "s3://"+bucket+"/coffer",
			"--principal", user.access, "--for", "versitygw", "--allow-http").stdout
		gw.putPolicy(t, bucket, policy)
		runProof(t, &proofSite{
			be: gw.backend(bucket, "coffer", user),
			in: newIntruder(gw.endpoint, gw.region, bucket, "coffer", user.access, user.secret),
		})
	})
}

// proofSite is where one run of the proof happens.
type proofSite struct {
	be    *backend  // the repository, reached with the server's credentials
	in    *intruder // the same credentials in an intruder's hands
	owner bool      // the credentials are the bucket owner's (no policy)
}

// proofSnap is one snapshot the server made and the tree it holds.
type proofSnap struct {
	id   string
	want manifest // the tree under data/
}

// runProof backs up, lets the intruder act, and checks.
func runProof(t *testing.T, s *proofSite) {
	r := newRepo(t, s.be)
	proofKeyChange(t, r)
	snaps := proofBackUp(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	coffers := coffersVersions(ctx, t, s.in)

	// What the lock and the policy must refuse.
	tryDestroy(ctx, t, s, coffers)
	tryBucketSettings(ctx, t, s)
	proofDoctor(t, r, s, nil, nil)

	// What lands: forgeries made with the key, later versions, delete
	// markers, planted junk.
	forged := forgeVictim(ctx, t, s.be, r.keyFile, snaps[0])
	planted := coverAll(ctx, t, s, coffers)
	auditJunk := plantAuditJunk(ctx, t, s)
	t.Logf("forged %q, planted %q", forged, append(planted, auditJunk))
	proofRestores(t, r, snaps)
	proofSnapshotsWarn(t, r, planted)
	proofDoctor(t, r, s, tamperedKeys(coffers), forged)
	proofAudit(t, r, auditJunk)
	proofHead(t, r, snaps[len(snaps)-1])

	// A whole snapshot forged with the key, a revocation of the owner's
	// last key slot, and the audit records tampered with: --as-of sets
	// the snapshot aside, the revocation is not honoured, the audit log
	// names the snapshot and the records.
	time.Sleep(time.Second)
	asOf := time.Now().UTC().Truncate(time.Second)
	time.Sleep(time.Second)
	fake := forgeSnapshot(ctx, t, s.be, r.keyFile, snaps[0], snaps[len(snaps)-1])
	record := coverAudit(ctx, t, s, coffers)
	revocation := forgeRevocation(ctx, t, s.be, r.keyFile)
	proofForgedListed(t, r, fake, revocation)
	proofRestores(t, r, snaps, "--as-of", asOf.Format(time.RFC3339))
	proofAuditBroken(t, r, fake, record)
}

// proofKeyChange adds a second key slot and revokes it, as a server whose
// spare key was retired would, so that key slots and revocations are
// among the objects the intruder attacks.
func proofKeyChange(t *testing.T, r *repo) {
	t.Helper()
	spare := filepath.Join(r.scratch, "spare-key")
	r.mustCoffer(t, shortTimeout, "key", "generate", spare)
	res := r.mustCoffer(t, longTimeout, append(append([]string{"key", "add"}, r.repoArgs()...), "--new-key-file", spare)...)
	slot := regexp.MustCompile(`[0-9a-f]{16}`).FindString(res.stdout)
	if slot == "" {
		t.Fatalf("key add printed no slot ID: %v", res)
	}
	r.mustCoffer(t, longTimeout, append([]string{"key", "remove", slot}, r.repoArgs()...)...)
}

// proofBackUp makes three snapshots of a changing tree with rsync, as a
// nightly job would, and returns them oldest first. The first one alone
// holds forge/victim.bin, one block long, which the intruder forges.
func proofBackUp(t *testing.T, r *repo) []proofSnap {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	buildRsyncTree(t, src, newRand(t.Name()), false)
	old := time.Date(1999, 9, 9, 9, 9, 9, 999, time.UTC)
	mkdirs(t, src, "forge")
	writeRandomFile(t, filepath.Join(src, "forge/victim.bin"), 20000, newRand("victim"))
	for _, rel := range []string{"forge/victim.bin", "forge", "."} {
		must(t, lutimes(filepath.Join(src, rel), old, old))
	}

	m := r.mount(t)
	data := filepath.Join(m.dir, "data")
	var snaps []proofSnap
	commit := func() {
		rsyncInto(t, src, data, "--delete")
		snaps = append(snaps, proofSnap{id: m.snapshot(t), want: scanTree(t, src)})
	}
	commit()
	changeRsyncTree(t, src)
	must(t, os.Remove(filepath.Join(src, "forge/victim.bin")))
	must(t, lutimes(filepath.Join(src, "forge"), old, old))
	commit()
	mkdirs(t, src, "notes")
	writeFile(t, filepath.Join(src, "notes/day3.txt"), []byte("the third night\n"), 0o640)
	for _, rel := range []string{"notes/day3.txt", "notes", "."} {
		must(t, lutimes(filepath.Join(src, rel), old.Add(time.Hour), old.Add(time.Hour)))
	}
	commit()
	m.umount(t)
	return snaps
}

// coffersVersions lists the versions coffer wrote (every version in the
// bucket, before the intruder acts), and checks that every kind of object
// is among them.
func coffersVersions(ctx context.Context, t *testing.T, in *intruder) []objVersion {
	t.Helper()
	vs, err := in.versions(ctx)
	if err != nil {
		t.Fatalf("list versions: %v", err)
	}
	kinds := map[string]int{}
	for _, v := range vs {
		if v.marker {
			t.Fatalf("a delete marker before the intruder came: %+v", v)
		}
		kinds[kindOf(v.key)]++
	}
	for _, k := range []string{"config", "keys", "revocations", "data", "index", "snapshots", "audit", "retain"} {
		if kinds[k] == 0 {
			t.Fatalf("no %s object among coffer's versions %v", k, kinds)
		}
	}
	t.Logf("coffer's objects by kind: %v", kinds)
	return vs
}

// kindOf is the kind of object at key: its first path element.
func kindOf(key string) string {
	kind, _, _ := strings.Cut(key, "/")
	return kind
}

// tamperedKeys are the keys coverAll put versions over: every key coffer
// wrote but its audit records.
func tamperedKeys(coffers []objVersion) []string {
	var keys []string
	for _, v := range coffers {
		if kindOf(v.key) != "audit" {
			keys = append(keys, v.key)
		}
	}
	return keys
}

// tryDestroy tries, on every version coffer wrote, what object lock must
// refuse even to the bucket's owner: deleting the version, with and
// without the governance bypass, shortening its retention and switching
// it to GOVERNANCE. Each one must be refused, and afterwards every
// version is still there, still COMPLIANCE, still locked for the
// repository's 30 days.
func tryDestroy(ctx context.Context, t *testing.T, s *proofSite, coffers []objVersion) {
	t.Helper()
	in := s.in
	answers := map[string]int{}
	refused := func(what string, v objVersion, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("the intruder could %s %s (version %s)", what, v.key, v.id)
		}
		answers[what+": "+errorCode(err)]++
	}
	soon := time.Now().Add(time.Hour)
	for _, v := range coffers {
		refused("delete version of", v, in.deleteVersion(ctx, v.key, v.id))
		refused("bypass governance and delete", v, in.bypassDelete(ctx, v.key, v.id))
		refused("shorten the retention of", v, in.retain(ctx, v.key, v.id, types.ObjectLockRetentionModeCompliance, soon))
		refused("switch to GOVERNANCE", v, in.retain(ctx, v.key, v.id, types.ObjectLockRetentionModeGovernance, time.Now().AddDate(10, 0, 0)))
	}
	t.Logf("the server's answers: %v", answers)
	after, err := in.versions(ctx)
	if err != nil {
		t.Fatalf("list versions: %v", err)
	}
	have := map[objVersion]bool{}
	for _, v := range after {
		have[v] = true
	}
	locked := time.Now().Add(29 * 24 * time.Hour)
	for _, v := range coffers {
		if !have[v] {
			t.Errorf("%s: coffer's version %s is gone", v.key, v.id)
			continue
		}
		mode, until, err := in.retention(ctx, v.key, v.id)
		if err != nil || mode != types.ObjectLockRetentionModeCompliance || until.Before(locked) {
			t.Errorf("%s version %s: retention %s until %v (%v), want COMPLIANCE for the repository's 30 days", v.key, v.id, mode, until, err)
		}
	}
}

// tryBucketSettings tries to suspend versioning and to change the
// bucket's default lock. The server's least-privilege credentials must be
// refused both; the owner's may not be, and the proof then goes on with
// what landed.
func tryBucketSettings(ctx context.Context, t *testing.T, s *proofSite) {
	t.Helper()
	err := s.in.suspendVersioning(ctx)
	status, verr := s.in.versioning(ctx)
	t.Logf("suspend versioning: %s; versioning now %q (%v)", errorCode(err), status, verr)
	if !s.owner && (err == nil || status != "Enabled") {
		t.Errorf("the server's credentials suspended versioning: %v, status %q", err, status)
	}
	err = s.in.changeDefaultLock(ctx)
	t.Logf("change the default lock to one day of GOVERNANCE: %s", errorCode(err))
	if !s.owner && err == nil {
		t.Errorf("the server's credentials changed the bucket's default lock")
	}
}

// coverAll puts a new version over every key coffer wrote and hides every
// other one behind a delete marker on top, and plants junk, locked for a
// day so that nobody can remove it, under index/ and snapshots/ with
// names coffer would write. It returns the planted keys. Audit records
// are left alone here (coverAudit), so the log can first be seen to
// verify.
func coverAll(ctx context.Context, t *testing.T, s *proofSite, coffers []objVersion) (planted []string) {
	t.Helper()
	in := s.in
	answers := map[string]int{}
	for i, v := range coffers {
		if kindOf(v.key) == "audit" {
			continue
		}
		answers["put over: "+errorCode(in.overwrite(ctx, v.key, []byte("the intruder's version of "+v.key)))]++
		if i%2 == 0 {
			err := in.hide(ctx, v.key)
			answers["hide: "+errorCode(err)]++
			if err == nil && !s.owner {
				t.Errorf("the server's own credentials placed a delete marker on %s", v.key)
			}
		}
	}
	for _, key := range []string{"index/" + randomName(), "snapshots/" + randomName()} {
		if err := in.plant(ctx, key, []byte("junk planted by the intruder"), time.Now().Add(24*time.Hour)); err != nil {
			t.Fatalf("plant %s: %v", key, err)
		}
		planted = append(planted, key)
	}
	t.Logf("the intruder's puts and markers: %v", answers)
	return planted
}

// plantAuditJunk plants junk, locked for a day, at the key the next audit
// record would take, and returns that key.
func plantAuditJunk(ctx context.Context, t *testing.T, s *proofSite) string {
	t.Helper()
	now, err := s.in.versions(ctx)
	must(t, err)
	key := nextAuditKey(now)
	if err := s.in.plant(ctx, key, []byte("junk planted by the intruder"), time.Now().Add(24*time.Hour)); err != nil {
		t.Fatalf("plant %s: %v", key, err)
	}
	return key
}

// nextAuditKey is the key the next audit record would take.
func nextAuditKey(coffers []objVersion) string {
	var last string
	for _, v := range coffers {
		if kindOf(v.key) == "audit" && v.key > last {
			last = v.key
		}
	}
	seq, _ := strconv.ParseUint(strings.TrimPrefix(last, "audit/"), 10, 64)
	return fmt.Sprintf("audit/%020d", seq+1)
}

// coverAudit puts a new version over coffer's first audit record and, if
// the credentials allow, hides its last one. It returns the first's key.
func coverAudit(ctx context.Context, t *testing.T, s *proofSite, coffers []objVersion) string {
	t.Helper()
	var records []string
	for _, v := range coffers {
		if kindOf(v.key) == "audit" {
			records = append(records, v.key)
		}
	}
	if len(records) == 0 {
		t.Fatal("coffer wrote no audit record")
	}
	if err := s.in.overwrite(ctx, records[0], []byte("the intruder's record")); err != nil {
		t.Fatalf("put over %s: %v", records[0], err)
	}
	t.Logf("hide %s: %s", records[len(records)-1], errorCode(s.in.hide(ctx, records[len(records)-1])))
	return records[0]
}

func randomName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
