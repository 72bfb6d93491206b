package s3test_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
)

// TestStartServesBuckets proves the harness yields a working server in
// both modes: a bucket can be created and an object written and read.
func TestStartServesBuckets(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			srv := s3test.Start(t, s3test.Options{TLS: tls})
			if got := strings.HasPrefix(srv.Endpoint, "https://"); got != tls {
				t.Fatalf("endpoint %s, TLS %v", srv.Endpoint, tls)
			}
			if tls {
				if _, err := os.Stat(srv.CAFile); err != nil {
					t.Fatalf("CA file: %v", err)
				}
			}
			bucket := srv.NewBucket(t, true)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := s3.New(ctx, srv.Config(bucket, "p"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Put(ctx, "k", []byte("v"), objectstore.Retention{}); err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(ctx, "k")
			if err != nil || string(got) != "v" {
				t.Fatalf("Get = %q, %v", got, err)
			}
			env := strings.Join(srv.Env(), "\n")
			for _, want := range []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey,
				"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_EC2_METADATA_DISABLED=true"} {
				if !strings.Contains(env, want) {
					t.Errorf("Env lacks %q", want)
				}
			}
		})
	}
}

// TestBucketNamesAreFresh checks that two buckets never collide and that a
// store on a bucket that was never created reports ErrNoBucket.
func TestBucketNamesAreFresh(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	a, b := srv.NewBucket(t, false), srv.NewBucket(t, false)
	if a == b {
		t.Fatalf("NewBucket returned %q twice", a)
	}
	ctx := context.Background()
	st, err := s3.New(ctx, srv.Config("coffer-never-made", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Head(ctx, "k"); !errors.Is(err, objectstore.ErrNoBucket) {
		t.Fatalf("Head on a missing bucket = %v, want ErrNoBucket", err)
	}
}
