package s3_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
)

// TestObjectLockEnabled: the probe tells a bucket with object lock from
// one without, and a missing bucket is ErrNoBucket, not "no lock".
func TestObjectLockEnabled(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := context.Background()
	for _, lock := range []bool{true, false} {
		st := newStore(t, srv.Config(srv.NewBucket(t, lock), "p"))
		got, err := st.ObjectLockEnabled(ctx)
		if err != nil || got != lock {
			t.Errorf("bucket made with object lock %v: probe says %v, %v", lock, got, err)
		}
	}
	st := newStore(t, srv.Config("no-such-bucket", ""))
	if _, err := st.ObjectLockEnabled(ctx); !errors.Is(err, objectstore.ErrNoBucket) {
		t.Errorf("missing bucket: %v, want ErrNoBucket", err)
	}
}

// TestCredentialsError: a chain that yields no credentials fails the
// request with a CredentialsError, before anything is sent.
func TestCredentialsError(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	cfg := srv.Config(srv.NewBucket(t, false), "")
	cfg.Credentials = failingCreds{}
	_, err := newStore(t, cfg).Get(context.Background(), "config")
	var credErr *s3.CredentialsError
	if !errors.As(err, &credErr) {
		t.Fatalf("get without credentials: %v, want a CredentialsError", err)
	}
}

// failingCreds is a credentials provider that finds nothing.
type failingCreds struct{}

func (failingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no credentials in this test")
}
