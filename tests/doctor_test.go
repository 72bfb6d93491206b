package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"coffer/doctor"
	crepo "coffer/repo"
)

// doctorReport runs `coffer doctor --json` and returns its report and
// whether it exited 0.
func doctorReport(t *testing.T, r *repo) (doctor.Report, bool) {
	t.Helper()
	res := r.coffer(t, longTimeout, append([]string{"doctor", "--json"}, r.repoArgs()...)...)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || len(rep.Results) == 0 {
		t.Fatalf("coffer doctor printed no report: %v: %v", err, res)
	}
	if (res.err == nil) == rep.Failed() {
		t.Errorf("doctor's exit (%v) disagrees with its report (failed=%v)", res.err, rep.Failed())
	}
	return rep, res.err == nil
}

// expect checks the status of each named promise.
func expect(t *testing.T, rep doctor.Report, want doctor.Status, promises ...string) {
	t.Helper()
	for _, p := range promises {
		got, ok := rep.Find(p)
		if !ok {
			t.Errorf("doctor reported nothing for %q", p)
			continue
		}
		if got.Status != want {
			t.Errorf("%q: %s (%s), want %s", p, got.Status, got.Detail, want)
		}
		if want == doctor.Broken && got.Fix == "" {
			t.Errorf("%q is broken but doctor says nothing to do", p)
		}
	}
}

// The bucket's promises, which hold on an object-locked versitygw bucket
// whoever asks.
var bucketPromises = []string{doctor.PromiseVersioning, doctor.PromiseObjectLock,
	doctor.PromiseConditionalPut, doctor.PromiseCompliance, doctor.PromiseClock,
	doctor.PromiseRetention, doctor.PromiseNoTampering, doctor.PromiseLockedMeta}

// The credentials' promises, which only least-privilege credentials keep.
var credentialPromises = []string{doctor.PromiseNoDelete, doctor.PromiseNoDeleteMarker,
	doctor.PromiseNoBypass, doctor.PromiseNoVersioning, doctor.PromiseNoLockConfig}

// TestDoctorOwner runs doctor with the bucket owner's credentials on a
// clean, object-locked bucket: the bucket's promises hold, and the
// credentials' are broken, truthfully, pointing at coffer policy.
func TestDoctorOwner(t *testing.T) {
	gw := startIAMGateway(t)
	bucket := gw.newBucket(t, true)
	r := newRepo(t, gw.backend(bucket, "host1", gw.root))
	rep, ok := doctorReport(t, r)
	if ok {
		t.Error("doctor exited 0 with the owner's credentials")
	}
	expect(t, rep, doctor.Holds, bucketPromises...)
	expect(t, rep, doctor.Broken, credentialPromises...)
	if res, _ := rep.Find(doctor.PromiseNoDelete); !strings.Contains(res.Fix, "coffer policy") {
		t.Errorf("the fix for deletable versions does not point at coffer policy: %q", res.Fix)
	}
	if _, ok := rep.Find(doctor.PromiseGovernance); ok {
		t.Error("a COMPLIANCE repository got the GOVERNANCE warning")
	}
	text := r.coffer(t, longTimeout, append([]string{"doctor"}, r.repoArgs()...)...)
	if text.exitCode() == 0 || !strings.Contains(text.stdout, "FAIL "+doctor.PromiseNoDelete) ||
		!strings.Contains(text.stdout, "ok   "+doctor.PromiseVersioning) {
		t.Errorf("doctor's text report: %v", text)
	}
	t.Logf("coffer doctor with the owner's credentials:\n%s", text.stdout)
	assertCanariesOnly(t, gw, bucket, "host1/")
}

// TestDoctorUser runs doctor with a user account under the policy coffer
// policy prints: every credential promise holds.
func TestDoctorUser(t *testing.T) {
	gw := startIAMGateway(t)
	user := gw.createUser(t, "host1key")
	bucket := gw.newBucket(t, true)
	doc := mustRun(t, shortTimeout, nil, cofferBin, "policy", "--repo", "s3://"+bucket+"/host1",
		"--for", "versitygw", "--principal", user.access, "--allow-http").stdout
	gw.putPolicy(t, bucket, doc)
	r := newRepo(t, gw.backend(bucket, "host1", user))
	rep, _ := doctorReport(t, r)
	expect(t, rep, doctor.Holds, bucketPromises...)
	expect(t, rep, doctor.Holds, credentialPromises...)
}

// TestDoctorNoLock runs doctor on a bucket made without versioning or
// object lock: those promises are broken, and so is everything that rests
// on them.
func TestDoctorNoLock(t *testing.T) {
	gw := startIAMGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := "coffer-plain-" + randHex(3)
	if _, err := gw.client(gw.root).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	be := gw.backend(bucket, "host1", gw.root)
	be.flags = append(be.flags, "--retention-days", "0")
	r := newRepo(t, be)
	r.be.flags = r.be.flags[:len(r.be.flags)-2]
	rep, ok := doctorReport(t, r)
	if ok {
		t.Error("doctor exited 0 on a bucket without versioning or lock")
	}
	expect(t, rep, doctor.Broken, doctor.PromiseVersioning, doctor.PromiseObjectLock,
		doctor.PromiseCompliance, doctor.PromiseRetention, doctor.PromiseNoDelete)
	expect(t, rep, doctor.Holds, doctor.PromiseConditionalPut, doctor.PromiseClock)
	expect(t, rep, doctor.NotApplicable, doctor.PromiseNoVersioning, doctor.PromiseNoLockConfig)
}

// TestDoctorTampering puts a new version over a pack and a delete marker
// on a snapshot, as an intruder with the owner's keys could, and checks
// that doctor lists both.
func TestDoctorTampering(t *testing.T) {
	gw := startIAMGateway(t)
	bucket := gw.newBucket(t, true)
	r := newRepo(t, gw.backend(bucket, "host1", gw.root))
	m := r.mount(t)
	if err := os.WriteFile(filepath.Join(m.dir, "f"), []byte("some bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.snapshot(t)
	m.umount(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := gw.client(gw.root)
	first := func(prefix string) string {
		t.Helper()
		out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if err != nil || len(out.Contents) == 0 {
			t.Fatalf("nothing under %s: %v", prefix, err)
		}
		return aws.ToString(out.Contents[0].Key)
	}
	pack, snap := first("host1/data/"), first("host1/snapshots/")
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(pack),
		Body: strings.NewReader("forged")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	rep, _ := doctorReport(t, r)
	res, _ := rep.Find(doctor.PromiseNoTampering)
	if res.Status != doctor.Broken {
		t.Fatalf("tampering: %s (%s)", res.Status, res.Detail)
	}
	joined := strings.Join(res.Items, "\n")
	if len(res.Items) != 2 || !strings.Contains(joined, strings.TrimPrefix(pack, "host1/")+": later version") ||
		!strings.Contains(joined, strings.TrimPrefix(snap, "host1/")+": delete marker") {
		t.Errorf("doctor's tampering items are not the forged pack and the hidden snapshot:\n%s", joined)
	}
}

// TestDoctorLocal runs doctor on a local directory: what applies is
// checked, the rest says it does not apply.
func TestDoctorLocal(t *testing.T) {
	r := newRepo(t, newBackend(t, "local"))
	rep, _ := doctorReport(t, r)
	expect(t, rep, doctor.Holds, doctor.PromiseConditionalPut, doctor.PromiseClock,
		doctor.PromiseRetention, doctor.PromiseNoTampering)
	expect(t, rep, doctor.NotApplicable, doctor.PromiseVersioning, doctor.PromiseObjectLock,
		doctor.PromiseCompliance, doctor.PromiseNoDelete, doctor.PromiseNoDeleteMarker)
}

// assertCanariesOnly checks that doctor wrote nothing outside doctor/.
func assertCanariesOnly(t *testing.T, gw *iamGateway, bucket, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := gw.client(gw.root).ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.DeleteMarkers {
		if k := aws.ToString(m.Key); !strings.HasPrefix(k, prefix+doctor.CanaryPrefix) {
			t.Errorf("doctor left a delete marker on %s", k)
		}
	}
	seen := map[string]int{}
	for _, v := range out.Versions {
		seen[aws.ToString(v.Key)]++
	}
	for k, n := range seen {
		if n > 1 && !strings.HasPrefix(k, prefix+doctor.CanaryPrefix) {
			t.Errorf("doctor wrote a second version of %s", k)
		}
	}
}

// TestDoctorGovernance: a GOVERNANCE repository gets the warning that
// credentials holding the bypass can delete everything, which does not by
// itself fail the run's bucket promises.
func TestDoctorGovernance(t *testing.T) {
	gw := startIAMGateway(t)
	user := gw.createUser(t, "host1key")
	bucket := gw.newBucket(t, true)
	gw.putPolicy(t, bucket, mustRun(t, shortTimeout, nil, cofferBin, "policy", "--repo", "s3://"+bucket+"/host1",
		"--for", "versitygw", "--principal", user.access, "--allow-http").stdout)
	be := gw.backend(bucket, "host1", user)
	be.flags = append(be.flags, "--retention-mode", "GOVERNANCE")
	r := newRepo(t, be)
	r.be.flags = r.be.flags[:len(r.be.flags)-2]
	rep, _ := doctorReport(t, r)
	expect(t, rep, doctor.Warning, doctor.PromiseGovernance)
	if res, _ := rep.Find(doctor.PromiseGovernance); !strings.Contains(res.Fix, "s3:BypassGovernanceRetention") {
		t.Errorf("the GOVERNANCE warning does not name the bypass permission: %q", res.Fix)
	}
	expect(t, rep, doctor.Holds, doctor.PromiseObjectLock, doctor.PromiseNoBypass, doctor.PromiseNoDelete)
}

// TestDoctorPendingRequest: a deletion request filed directly with the
// key (as an intruder holding it could, without coffer forget) makes
// doctor warn, naming the request, its due date and who filed it; the
// unsafe delays the repository was made with warn too.
func TestDoctorPendingRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be, "--deletion-delay", "1h", "--prune-margin", "1min", "--unsafe-short-delays")
		m := r.mount(t)
		if err := os.WriteFile(filepath.Join(m.dir, "f"), []byte("keep me\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		snap := m.snapshot(t)
		m.umount(t)

		rep, _ := doctorReport(t, r)
		expect(t, rep, doctor.Holds, doctor.PromiseNoPending, doctor.PromiseSnapshotCadence)
		expect(t, rep, doctor.Warning, doctor.PromiseDeletionDelay)
		if res, _ := rep.Find(doctor.PromiseDeletionDelay); !strings.Contains(res.Detail, "deletion delay 1h0m0s, prune margin 1m0s") {
			t.Errorf("doctor does not show the delays: %q", res.Detail)
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		intruder := openWithKey(ctx, t, storeOf(t, be), r.keyFile)
		req, err := intruder.RequestDeletion(ctx, crepo.Author{Source: "intruder-src", Host: "elsewhere"}, []string{snap}, "forged")
		must(t, err)
		intruder.Close()

		rep, _ = doctorReport(t, r)
		expect(t, rep, doctor.Warning, doctor.PromiseNoPending)
		res, _ := rep.Find(doctor.PromiseNoPending)
		if !strings.Contains(res.Detail, "1 request(s) pending for 1 snapshot(s), earliest due "+req.Due.UTC().Format(time.RFC3339)) {
			t.Errorf("pending detail %q, want one request due %s", res.Detail, req.Due.UTC().Format(time.RFC3339))
		}
		if len(res.Items) != 1 || !strings.Contains(res.Items[0], req.Key) || !strings.Contains(res.Items[0], "source intruder-src on elsewhere") {
			t.Errorf("pending items %q, want %s filed by intruder-src on elsewhere", res.Items, req.Key)
		}
		if !strings.Contains(res.Fix, "coffer requests") {
			t.Errorf("the warning does not point at coffer requests: %q", res.Fix)
		}
		text := r.coffer(t, longTimeout, append([]string{"doctor"}, r.repoArgs()...)...)
		if !strings.Contains(text.stdout, "WARN "+doctor.PromiseNoPending) {
			t.Errorf("doctor's text report has no pending-request warning:\n%s", text.stdout)
		}
	})
}
