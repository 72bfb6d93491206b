package s3test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// CreateUser makes an account of role "user" whose access key is name,
// on a server started with Options.IAM, and returns its credentials. It
// reaches no bucket until a bucket policy grants it.
func (srv *Server) CreateUser(t testing.TB, name string) aws.CredentialsProvider {
	t.Helper()
	secret := "secret" + randomHex(12)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, srv.bin, "admin", "--access", srv.AccessKey, "--secret", srv.SecretKey,
		"--endpoint-url", srv.Endpoint, "create-user", "--access", name, "--secret", secret, "--role", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("s3test: create user %s: %v\n%s", name, err, out)
	}
	return credentials.NewStaticCredentialsProvider(name, secret, "")
}

// PutBucketPolicy sets bucket's policy as the root user.
func (srv *Server) PutBucketPolicy(t testing.TB, bucket, doc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := srv.Intruder(t, bucket, "")
	if _, err := in.client.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{
		Bucket: aws.String(bucket), Policy: aws.String(doc)}); err != nil {
		t.Fatalf("s3test: put bucket policy on %s: %v\n%s", bucket, err, doc)
	}
}
