package s3_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/s3/s3test"
	"coffer/policy"
)

// TestLegalHoldOutlivesRetention: what versitygw v1.8.0 does with a legal
// hold on a version whose retention has lapsed, and that the backend
// refuses to delete it anyway. versitygw checks the hold only when the
// version has no retention or one still in force (auth/object_lock.go:
// an expired retention returns before the legal-hold check), so its raw
// DELETE removes a held version once the lock lapses; S3 keeps it.
func TestLegalHoldOutlivesRetention(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	st := newStore(t, srv.Config(bucket, "lh/"))
	in := srv.Intruder(t, bucket, "lh/")
	ctx := context.Background()
	now, err := st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The store's clock reads whole seconds, so now may be up to a second
	// behind: a lock of one second could be in the past when it arrives.
	until := now.Add(3 * time.Second)
	ret := objectstore.Retention{Mode: objectstore.Compliance, Until: until}
	raw := mustPutS3(t, st, "raw", ret)
	guarded := mustPutS3(t, st, "guarded", ret)
	unlocked := mustPutS3(t, st, "unlocked", objectstore.Retention{})
	for key, vid := range map[string]string{"raw": raw, "guarded": guarded, "unlocked": unlocked} {
		if err := st.SetLegalHold(ctx, key, vid, true); err != nil {
			t.Fatalf("SetLegalHold %s: %v", key, err)
		}
	}
	for now.Before(until.Truncate(time.Second).Add(2 * time.Second)) {
		time.Sleep(250 * time.Millisecond)
		if now, err = st.Now(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteVersion(ctx, "guarded", guarded); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("DeleteVersion of a held version whose lock lapsed = %v, want ErrRetained", err)
	}
	if _, err := st.GetVersion(ctx, "guarded", guarded); err != nil {
		t.Fatalf("the held version is gone after a refused DeleteVersion: %v", err)
	}
	// The server's own answers, without the backend's check: it keeps a
	// held version that never had retention...
	if err := in.DeleteVersion(ctx, "unlocked", unlocked); !errors.Is(err, objectstore.ErrRetained) {
		t.Errorf("raw delete of a held version without retention = %v, want a refusal", err)
	}
	// ...but not one whose retention lapsed.
	err = in.DeleteVersion(ctx, "raw", raw)
	_, gerr := st.GetVersion(ctx, "raw", raw)
	switch {
	case err == nil && errors.Is(gerr, objectstore.ErrNotFound):
		t.Logf("versitygw deletes a held version once its retention lapsed (docs/STORE.md says so)")
	case errors.Is(err, objectstore.ErrRetained) && gerr == nil:
		t.Errorf("versitygw now refuses to delete a held version after its lock lapsed: " +
			"update docs/STORE.md (the backend's own check may stay)")
	default:
		t.Fatalf("raw delete of a held version: %v; read after: %v", err, gerr)
	}
}

// TestCanDeleteVersionsByRole: the delete probe says no for a user
// account under coffer's server policy and yes for the administrator.
func TestCanDeleteVersionsByRole(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{IAM: true})
	bucket := srv.NewBucket(t, true)
	user := srv.CreateUser(t, "host1")
	srv.PutBucketPolicy(t, bucket, serverPolicy(t, srv, bucket, "host1"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := srv.Config(bucket, "repo/")
	cfg.Credentials = user
	can, err := newStore(t, cfg).CanDeleteVersions(ctx)
	if err != nil || can {
		t.Errorf("CanDeleteVersions as the server = %v, %v; want false", can, err)
	}
	can, err = newStore(t, srv.Config(bucket, "repo/")).CanDeleteVersions(ctx)
	if err != nil || !can {
		t.Errorf("CanDeleteVersions as root = %v, %v; want true", can, err)
	}
}

// mustPutS3 puts a small object and returns its version ID.
func mustPutS3(t *testing.T, st objectstore.Store, key string, ret objectstore.Retention) string {
	t.Helper()
	vid, err := st.Put(context.Background(), key, []byte("held "+key), ret)
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return vid
}

// serverPolicy is coffer's server policy for versitygw granting bucket
// to the access key principal, as `coffer policy` prints it.
func serverPolicy(t *testing.T, srv *s3test.Server, bucket, principal string) string {
	t.Helper()
	doc, err := policy.Build(policy.Options{Bucket: bucket, Role: policy.Server, For: policy.VersityGW,
		Principal: principal, AllowHTTP: !strings.HasPrefix(srv.Endpoint, "https:")})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDeleteVersionWithoutObjectLock: on a bucket without object lock,
// where S3 refuses to read legal holds, DeleteVersion still deletes.
func TestDeleteVersionWithoutObjectLock(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	st := newStore(t, srv.Config(srv.NewBucket(t, false), "nolock/"))
	ctx := context.Background()
	vid := mustPutS3(t, st, "k", objectstore.Retention{})
	if err := st.DeleteVersion(ctx, "k", vid); err != nil {
		t.Fatalf("DeleteVersion without object lock: %v", err)
	}
	if _, err := st.GetVersion(ctx, "k", vid); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetVersion after DeleteVersion = %v, want ErrNotFound", err)
	}
	if can, err := st.CanDeleteVersions(ctx); err != nil || !can {
		t.Fatalf("CanDeleteVersions without object lock = %v, %v; want true", can, err)
	}
}
