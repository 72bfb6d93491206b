package tests

import (
	"testing"

	"coffer/objectstore/s3/s3test"
)

// newS3Backend starts a versitygw S3 server for this test and gives the
// repository an object-locked bucket of its own.
func newS3Backend(t *testing.T) *backend {
	t.Helper()
	srv := s3test.Start(t, s3test.Options{})
	return s3BackendOn(srv, srv.NewBucket(t, true))
}

// s3BackendOn is the backend of a repository under coffer/ in bucket on srv.
func s3BackendOn(srv *s3test.Server, bucket string) *backend {
	return &backend{
		name:     "s3",
		repoURL:  "s3://" + bucket + "/coffer",
		flags:    []string{"--insecure-http", "--path-style"},
		env:      srv.Env(),
		dataDirs: []string{srv.RootDir, srv.VersioningDir},
	}
}
