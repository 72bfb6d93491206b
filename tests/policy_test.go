package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
	"coffer/objectstore/s3"
)

// TestPolicyVersitygw puts the policy `coffer policy --for versitygw`
// prints on a bucket for a user account, and checks that versitygw accepts
// it, that the user can do what coffer needs (init, mount, write,
// snapshot, read back), and that the user cannot delete a version, place a
// delete marker or change the bucket's versioning.
func TestPolicyVersitygw(t *testing.T) {
	gw := startIAMGateway(t)
	user := gw.createUser(t, "host1key")
	bucket := gw.newBucket(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	policyFor := func(extra ...string) string {
		args := append([]string{"policy", "--repo", "s3://" + bucket + "/host1", "--principal", user.access}, extra...)
		return mustRun(t, shortTimeout, nil, cofferBin, args...).stdout
	}

	// The full form, TLS deny included, is accepted; the AWS form is not
	// (versitygw rejects s3:if-none-match), which is why there are two.
	if err := gw.tryPutPolicy(ctx, bucket, policyFor("--for", "versitygw")); err != nil {
		t.Fatalf("versitygw refused the versitygw policy: %v", err)
	}
	err := gw.tryPutPolicy(ctx, bucket, policyFor("--for", "aws"))
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "MalformedPolicy" {
		t.Errorf("versitygw took the aws form (if-none-match condition): %v", err)
	}
	// The test server speaks plain HTTP, so the TLS deny is left out.
	gw.putPolicy(t, bucket, policyFor("--for", "versitygw", "--allow-http"))

	r := newRepo(t, gw.backend(bucket, "host1", user))
	m := r.mount(t)
	want := strings.Repeat("least privilege\n", 1000)
	if err := os.WriteFile(filepath.Join(m.dir, "f.txt"), []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	m.snapshot(t)
	m.umount(t)
	m = r.mount(t)
	got, err := os.ReadFile(filepath.Join(m.dir, ".snapshots", "latest", "f.txt"))
	if err != nil || string(got) != want {
		t.Fatalf("read back through the user's credentials: %v (%d bytes)", err, len(got))
	}
	m.umount(t)

	// A large upload goes in parts, which the policy must allow too.
	cfg := gw.config(bucket, "host1", user)
	cfg.MultipartThreshold, cfg.PartSize = 6<<20, 5<<20
	st, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("multipart "), 1<<20)
	if _, err := st.Put(ctx, "multipart-under-policy", big, objectstore.Retention{}); err != nil {
		t.Errorf("a multipart upload under the policy: %v", err)
	}
	// The server places and clears legal holds (coffer hold, release), and
	// still cannot delete what it released.
	heldVID, err := st.Put(ctx, "held-under-policy", []byte("held"), objectstore.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetLegalHold(ctx, "held-under-policy", heldVID, true); err != nil {
		t.Errorf("place a legal hold under the policy: %v", err)
	}
	if held, err := st.LegalHold(ctx, "held-under-policy", heldVID); err != nil || !held {
		t.Errorf("read the legal hold under the policy: %v, %v; want held", held, err)
	}
	if err := st.SetLegalHold(ctx, "held-under-policy", heldVID, false); err != nil {
		t.Errorf("clear a legal hold under the policy: %v", err)
	}
	if err := st.DeleteVersion(ctx, "held-under-policy", heldVID); !errors.Is(err, objectstore.ErrPermission) {
		t.Errorf("delete a released version under the policy: %v, want ErrPermission", err)
	}

	c := gw.client(user)
	out, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String("host1/")})
	if err != nil {
		t.Fatalf("the user cannot list versions: %v", err)
	}
	if len(out.Versions) == 0 {
		t.Fatal("no versions under host1/")
	}
	v := out.Versions[0]
	denied := func(what string, err error) {
		t.Helper()
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
			t.Errorf("%s as the user: %v, want AccessDenied", what, err)
		}
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key, VersionId: v.VersionId})
	denied("delete version of "+aws.ToString(v.Key), err)
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key})
	denied("delete marker on "+aws.ToString(v.Key), err)
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: v.Key,
		VersionId: v.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	denied("bypass governance", err)
	_, err = c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	denied("suspend versioning", err)
	_, err = c.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)})
	denied("delete the bucket policy", err)
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("other/x"),
		Body: strings.NewReader("x")})
	denied("write outside the prefix", err)
}
