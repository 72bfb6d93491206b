// Package s3test starts a real S3 server (versitygw over a POSIX
// directory) for tests, so the S3 backend and end-to-end tests talk to
// something that speaks the S3 API, conditional writes and object lock
// included.
//
// It is an ordinary (non-test) package so any package's tests can import
// it. It builds nothing: the versitygw binary comes from the environment
// variable COFFER_VERSITYGW or from .cache/bin/versitygw under the module
// root (`make versitygw` puts it there). A missing binary fails the test;
// it never skips.
package s3test
