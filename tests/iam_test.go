package tests

// A versitygw with its internal IAM service, for tests that need more than
// the one root account: user accounts (role "user") that see a bucket only
// through its bucket policy, as a server's least-privilege credentials do.
//
//	gw := startIAMGateway(t)
//	user := gw.createUser(t, "host1")
//	bucket := gw.newBucket(t, true)        // owned by root, object-locked
//	gw.putPolicy(t, bucket, policyJSON)     // root sets the policy
//	be := gw.backend(bucket, "host1", user) // coffer runs as the user
//
// The root account (gw.root) owns every bucket and is the administrator.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
)

// creds are one account's S3 keys.
type creds struct {
	access, secret string
}

// iamGateway is a running versitygw with IAM accounts, stopped (by its own
// PID) when the test ends.
type iamGateway struct {
	bin      string
	endpoint string // http://127.0.0.1:PORT
	region   string
	root     creds // the gateway's root account: owns buckets, sets policies
	dataDirs []string
	buckets  int
}

// startIAMGateway starts versitygw over fresh directories with its
// internal IAM service and waits until it answers.
func startIAMGateway(t *testing.T) *iamGateway {
	t.Helper()
	bin := os.Getenv(s3test.BinaryEnv)
	if bin == "" {
		t.Fatalf("set %s to the versitygw binary", s3test.BinaryEnv)
	}
	// The port is free when chosen, but another test may take it before
	// versitygw binds it: then versitygw exits at once, and a new port is
	// tried.
	for attempt := 1; ; attempt++ {
		g, busy := tryIAMGateway(t, bin)
		if !busy {
			return g
		}
		if attempt == 3 {
			t.Fatalf("versitygw found its port taken %d times", attempt)
		}
	}
}

// tryIAMGateway starts versitygw on a free port; busy says the port was
// taken before versitygw could bind it.
func tryIAMGateway(t *testing.T, bin string) (g *iamGateway, busy bool) {
	t.Helper()
	g = &iamGateway{bin: bin, region: "us-east-1",
		root: creds{"cofferRoot", "cofferRootSecret" + randHex(8)}}
	dataDir, verDir, iamDir := t.TempDir(), t.TempDir(), t.TempDir()
	g.dataDirs = []string{dataDir, verDir}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g.endpoint = "http://" + addr
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", g.root.access, "--secret", g.root.secret,
		"--region", g.region, "--port", addr, "--iam-dir", iamDir, "--quiet",
		"posix", "--versioning-dir", verDir, dataDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "VGW_CHOWN_UID=false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s3.Ping(ctx, g.config("", "", g.root))
		cancel()
		if err == nil {
			return g, false
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			if strings.Contains(string(out), "address already in use") {
				return nil, true
			}
			t.Fatalf("versitygw exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw at %s not answering: %v", g.endpoint, err)
		}
	}
}

// createUser makes an account of role "user" named name (its access key)
// and returns its keys. It can reach no bucket until a policy grants it.
func (g *iamGateway) createUser(t *testing.T, name string) creds {
	t.Helper()
	c := creds{name, "secret" + randHex(12)}
	mustRun(t, shortTimeout, nil, g.bin, "admin", "--access", g.root.access, "--secret", g.root.secret,
		"--endpoint-url", g.endpoint, "create-user", "--access", c.access, "--secret", c.secret, "--role", "user")
	return c
}

// newBucket creates a bucket owned by root, versioned, with object lock
// if asked.
func (g *iamGateway) newBucket(t *testing.T, objectLock bool) string {
	t.Helper()
	g.buckets++
	name := fmt.Sprintf("coffer-iam-%d-%s", g.buckets, randHex(3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s3.CreateBucket(ctx, g.config(name, "", g.root), objectLock); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// tryPutPolicy sets bucket's policy as root; the gateway's refusal (a
// policy it does not accept) is the error.
func (g *iamGateway) tryPutPolicy(ctx context.Context, bucket, doc string) error {
	_, err := g.client(g.root).PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{
		Bucket: aws.String(bucket), Policy: aws.String(doc)})
	return err
}

// putPolicy sets bucket's policy as root or fails t.
func (g *iamGateway) putPolicy(t *testing.T, bucket, doc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.tryPutPolicy(ctx, bucket, doc); err != nil {
		t.Fatalf("put bucket policy on %s: %v\n%s", bucket, err, doc)
	}
}

// config is a coffer S3 configuration for bucket and prefix as c.
func (g *iamGateway) config(bucket, prefix string, c creds) s3.Config {
	return s3.Config{Bucket: bucket, Prefix: prefix, Endpoint: g.endpoint, Region: g.region,
		InsecureHTTP: true, PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(c.access, c.secret, "")}
}

// client is a raw SDK client as c, for requests outside coffer's Store.
func (g *iamGateway) client(c creds) *awss3.Client {
	return awss3.New(awss3.Options{
		Region: g.region, BaseEndpoint: aws.String(g.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(c.access, c.secret, ""),
	})
}

// backend is a repository at s3://bucket/prefix that coffer processes
// reach with c's credentials.
func (g *iamGateway) backend(bucket, prefix string, c creds) *backend {
	return &backend{
		name:    "s3",
		repoURL: "s3://" + bucket + "/" + prefix,
		flags:   []string{"--insecure-http", "--path-style"},
		env: []string{"AWS_ACCESS_KEY_ID=" + c.access, "AWS_SECRET_ACCESS_KEY=" + c.secret,
			"AWS_REGION=" + g.region, "AWS_ENDPOINT_URL_S3=" + g.endpoint, "AWS_EC2_METADATA_DISABLED=true"},
		dataDirs: g.dataDirs,
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
