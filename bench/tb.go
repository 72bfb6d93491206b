package main

import (
	"fmt"
	"os"
	"testing"

	"coffer/objectstore/s3/s3test"
)

// serverTB lends s3test, which the tests use to start versitygw, the few
// parts of testing.TB it calls, so the benchmark starts the same server the
// same way. Fatalf panics with a fatal value that startS3 recovers.
type serverTB struct {
	testing.TB // nil: a method not below would panic, which is a bug here
	b          *bench
	dirs       int
}

type fatal struct{ msg string }

func (t *serverTB) Helper()                         {}
func (t *serverTB) Name() string                    { return "bench" }
func (t *serverTB) Cleanup(f func())                { t.b.cleanups = append(t.b.cleanups, f) }
func (t *serverTB) Logf(format string, args ...any) { t.b.say(format, args...) }
func (t *serverTB) Fatalf(format string, args ...any) {
	panic(fatal{fmt.Sprintf(format, args...)})
}
func (t *serverTB) TempDir() string {
	t.dirs++
	dir := fmt.Sprintf("%s/s3.%d", t.b.work, t.dirs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(fatal{err.Error()})
	}
	return dir
}

// startS3 starts versitygw with two buckets: one with object lock for
// coffer (as the design asks of production buckets), a plain one for
// restic. The server stops in the run's cleanup.
func (b *bench) startS3() (srv *s3test.Server, cofferBucket, resticBucket string, err error) {
	t := &serverTB{b: b}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", f.msg)
		}
	}()
	srv = s3test.Start(t, s3test.Options{})
	return srv, srv.NewBucket(t, true), srv.NewBucket(t, false), nil
}
