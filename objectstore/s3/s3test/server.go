package s3test

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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"coffer/objectstore/s3"
)

// BinaryEnv names the environment variable that points at the versitygw
// binary; when unset, .cache/bin/versitygw under the module root is used.
const BinaryEnv = "COFFER_VERSITYGW"

// Options chooses how the server is started.
type Options struct {
	// TLS serves HTTPS with a certificate from a fresh self-signed CA
	// (Server.CAFile) instead of plain HTTP.
	TLS bool
	// IAM runs versitygw's internal IAM service, so CreateUser can make
	// accounts of role "user" that reach a bucket only through its policy.
	IAM bool
}

// Server is a running versitygw. It stops when the test that started it
// ends.
type Server struct {
	// Endpoint is the URL to reach it: http://127.0.0.1:PORT, or https://
	// with Options.TLS.
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey string
	SecretKey string
	// Region is the signing region the server expects.
	Region string
	// RootDir holds the buckets; VersioningDir holds old versions.
	RootDir       string
	VersioningDir string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate; empty without TLS.
	CAFile string

	bin     string       // the versitygw binary, for its admin commands
	buckets atomic.Int64 // numbers the buckets NewBucket creates
}

// startAttempts bounds retries when another process grabs the port
// between choosing it and versitygw binding it.
const startAttempts = 3

// Start runs versitygw on a free loopback port over fresh temporary
// directories, waits until it answers, and stops it (by its own PID) in
// t's cleanup. A missing binary or a server that does not come up fails
// the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := findBinary(t)
	srv := &Server{
		AccessKey:     "cofferTestAccessKey",
		SecretKey:     "cofferTestSecretKey0123456789",
		Region:        "us-east-1",
		RootDir:       t.TempDir(),
		VersioningDir: t.TempDir(),
		bin:           bin,
	}
	var certFile, keyFile string
	if opts.TLS {
		dir := t.TempDir()
		var err error
		srv.CAFile, certFile, keyFile, err = writeCerts(dir)
		if err != nil {
			t.Fatalf("s3test: make TLS certificates: %v", err)
		}
	}
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("s3test: find a free port: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := []string{"--access", srv.AccessKey, "--secret", srv.SecretKey,
			"--region", srv.Region, "--port", addr, "--quiet"}
		if opts.IAM {
			args = append(args, "--iam-dir", t.TempDir())
		}
		scheme := "http"
		if opts.TLS {
			args = append(args, "--cert", certFile, "--key", keyFile)
			scheme = "https"
		}
		args = append(args, "posix", "--versioning-dir", srv.VersioningDir, srv.RootDir)
		srv.Endpoint = scheme + "://" + addr
		if lastErr = srv.run(t, bin, args); lastErr == nil {
			return srv
		}
	}
	t.Fatalf("s3test: versitygw did not start: %v", lastErr)
	return nil
}

// run starts the binary, registers its stop, and waits until it answers.
func (srv *Server) run(t testing.TB, bin string, args []string) error {
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "VGW_CHOWN_UID=false")
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if err := srv.waitReady(exited, 20*time.Second); err != nil {
		stop()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w; its output:\n%s", err, tail(string(out), 2000))
	}
	t.Cleanup(stop)
	return nil
}

// waitReady polls until the server answers an S3 request or exits.
func (srv *Server) waitReady(exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	cfg := srv.Config("", "")
	for {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at %s", srv.Endpoint)
		default:
		}
		err := ping(cfg)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw at %s not answering after %s: %v", srv.Endpoint, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ping makes one cheap signed request (list buckets) with a short timeout.
func ping(cfg s3.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s3.Ping(ctx, cfg)
}

// NewBucket creates a fresh, versioned bucket, with object lock if asked,
// and returns its name.
func (srv *Server) NewBucket(t testing.TB, objectLock bool) string {
	t.Helper()
	name := fmt.Sprintf("coffer-test-%d-%s", srv.buckets.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s3.CreateBucket(ctx, srv.Config(name, ""), objectLock); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	return name
}

// Config returns a backend configuration for bucket and prefix on this
// server, with its credentials, path-style addressing, and either
// InsecureHTTP (plain HTTP) or the CA bundle (TLS).
func (srv *Server) Config(bucket, prefix string) s3.Config {
	return s3.Config{
		Bucket:       bucket,
		Prefix:       prefix,
		Endpoint:     srv.Endpoint,
		Region:       srv.Region,
		InsecureHTTP: strings.HasPrefix(srv.Endpoint, "http://"),
		CABundle:     srv.CAFile,
		PathStyle:    true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	}
}

// Env returns environment entries that point a child process's AWS chain
// at this server: keys, region, endpoint, CA bundle with TLS, and no
// instance-metadata lookups.
func (srv *Server) Env() []string {
	env := []string{
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_REGION=" + srv.Region,
		"AWS_ENDPOINT_URL_S3=" + srv.Endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if srv.CAFile != "" {
		env = append(env, "AWS_CA_BUNDLE="+srv.CAFile)
	}
	return env
}

// findBinary returns the versitygw path or fails t saying how to get it.
func findBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv(BinaryEnv)
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("s3test: %v; set %s to the versitygw binary", err, BinaryEnv)
		}
		path = filepath.Join(root, ".cache", "bin", "versitygw")
	}
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("s3test: no versitygw binary at %s (run `make versitygw`, or set %s): %v", path, BinaryEnv, err)
	}
	return path
}

// moduleRoot walks up from the working directory to the one with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
