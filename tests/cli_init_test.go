package tests

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
)

// TestInitWithoutObjectLock runs init on a versitygw bucket made without
// object lock: with a retention it must fail at once, saying what to do,
// and write nothing; with --retention-days 0 it must then succeed.
func TestInitWithoutObjectLock(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	key := filepath.Join(t.TempDir(), "key")
	mustRun(t, shortTimeout, nil, cofferBin, "key", "generate", key)
	args := []string{"init", "--repo", "s3://" + bucket + "/coffer", "--key-file", key,
		"--insecure-http", "--path-style"}

	res := run(t, shortTimeout, srv.Env(), cofferBin, args...)
	if got := res.exitCode(); got != 2 {
		t.Fatalf("init with retention on a bucket without object lock: exit %d, want 2\n%v", got, res)
	}
	line := strings.TrimSuffix(res.stderr, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "coffer: ") ||
		!strings.Contains(line, "object lock") || !strings.Contains(line, "--retention-days 0") {
		t.Fatalf("want one line naming object lock and --retention-days 0, got:\n%s", res.stderr)
	}
	if keys := listBucket(t, srv, bucket); len(keys) != 0 {
		t.Fatalf("the failed init left %q in the bucket", keys)
	}

	res = run(t, shortTimeout, srv.Env(), cofferBin, append(args, "--retention-days", "0")...)
	if res.err != nil || strings.TrimSpace(res.stdout) == "" {
		t.Fatalf("init --retention-days 0: want success printing the repository ID: %v", res)
	}
	if until := configRetainUntil(t, srv, bucket); !until.IsZero() {
		t.Fatalf("init --retention-days 0 locked config until %v, want no lock", until)
	}
	res = run(t, shortTimeout, srv.Env(), cofferBin, "snapshots", "--repo", "s3://"+bucket+"/coffer",
		"--key-file", key, "--insecure-http", "--path-style")
	if res.err != nil {
		t.Fatalf("snapshots after init --retention-days 0: %v", res)
	}

	// The probe says yes on a bucket with object lock.
	locked := srv.NewBucket(t, true)
	res = run(t, shortTimeout, srv.Env(), cofferBin, "init", "--repo", "s3://"+locked+"/coffer",
		"--key-file", key, "--insecure-http", "--path-style")
	if res.err != nil || strings.TrimSpace(res.stdout) == "" {
		t.Fatalf("init with retention on a bucket with object lock: want success printing the repository ID: %v", res)
	}
	if until := configRetainUntil(t, srv, locked); until.Before(time.Now().Add(29 * 24 * time.Hour)) {
		t.Fatalf("init on a bucket with object lock: config retained until %v, want the default 30 days", until)
	}
}

// configRetainUntil is how long the repository at bucket/coffer keeps its
// config object locked (zero: not locked).
func configRetainUntil(t *testing.T, srv *s3test.Server, bucket string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s3.New(ctx, srv.Config(bucket, "coffer"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Head(ctx, "config")
	if err != nil {
		t.Fatalf("head config in %s: %v", bucket, err)
	}
	return info.RetainUntil
}

// listBucket returns every key in bucket.
func listBucket(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s3.New(ctx, srv.Config(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = st.List(ctx, "", func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", bucket, err)
	}
	return keys
}
