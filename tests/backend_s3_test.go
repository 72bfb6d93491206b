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
	bucket := srv.NewBucket(t, true)
	return &backend{
		name:     "s3",
		repoURL:  "s3://" + bucket + "/coffer",
		flags:    []string{"--insecure-http", "--path-style"},
		env:      srv.Env(),
		dataDirs: []string{srv.RootDir, srv.VersioningDir},
	}
}
