package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
	"coffer/objectstore/storetest"
)

// newStore opens a store on cfg or fails the test.
func newStore(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	st, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return st
}

// TestConformance runs the shared suite against versitygw, on a bucket
// with object lock, each subtest on a prefix of its own.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	t.Logf("conformance suite against versitygw at %s", srv.Endpoint)
	var n atomic.Int64
	var prefixes sync.Map // *s3.Store → its prefix, for the intruder
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		prefix := fmt.Sprintf("suite-%d/", n.Add(1))
		st := newStore(t, srv.Config(bucket, prefix))
		prefixes.Store(st, prefix)
		return st
	}, storetest.Options{Retention: true, LegalHolds: true, DeleteProber: true, Intruder: func(t *testing.T, st objectstore.Store) storetest.Intruder {
		prefix, _ := prefixes.Load(st)
		return srv.Intruder(t, bucket, prefix.(string))
	}})
}

// TestMultipartRoundTrip forces multipart uploads with a 5 MiB threshold
// and checks bytes, ranges across part boundaries and put-once.
func TestMultipartRoundTrip(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	cfg := srv.Config(bucket, "mp")
	cfg.MultipartThreshold = 5 << 20
	st := newStore(t, cfg)
	ctx := context.Background()
	data := make([]byte, 12<<20+12345) // three parts, the last one short
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	ret := objectstore.Retention{Mode: objectstore.Compliance, Until: time.Now().Add(time.Hour).Truncate(time.Second)}
	if _, err := st.Put(ctx, "big", data, ret); err != nil {
		t.Fatalf("multipart Put: %v", err)
	}
	got, err := st.Get(ctx, "big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after multipart Put: %d bytes, equal %v, err %v", len(got), bytes.Equal(got, data), err)
	}
	off := int64(5<<20) - 100 // straddles the first part boundary
	part, err := st.GetRange(ctx, "big", off, 200)
	if err != nil || !bytes.Equal(part, data[off:off+200]) {
		t.Fatalf("GetRange across parts: %v", err)
	}
	info, err := st.Head(ctx, "big")
	if err != nil || info.Size != int64(len(data)) || !info.RetainUntil.Equal(ret.Until) {
		t.Fatalf("Head = %+v, %v; want size %d retained until %v", info, err, len(data), ret.Until)
	}
	if _, err := st.Put(ctx, "big", data[:6<<20], objectstore.Retention{}); !errors.Is(err, objectstore.ErrExists) {
		t.Fatalf("second multipart Put = %v, want ErrExists", err)
	}
	if err := st.Delete(ctx, "big"); !errors.Is(err, objectstore.ErrRetained) {
		t.Fatalf("Delete of retained multipart object = %v, want ErrRetained", err)
	}
	got, err = st.Get(ctx, "big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after refused Put and Delete: %v", err)
	}
}

// TestTLSWithCABundle checks that a server with a self-signed CA is
// trusted with CABundle and refused without it.
func TestTLSWithCABundle(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{TLS: true})
	bucket := srv.NewBucket(t, false)
	ctx := context.Background()
	st := newStore(t, srv.Config(bucket, ""))
	if _, err := st.Put(ctx, "k", []byte("over TLS"), objectstore.Retention{}); err != nil {
		t.Fatalf("Put over TLS with the CA bundle: %v", err)
	}
	cfg := srv.Config(bucket, "")
	cfg.CABundle = ""
	untrusting := newStore(t, cfg)
	if _, err := untrusting.Get(ctx, "k"); err == nil {
		t.Fatal("Get over TLS without the CA bundle succeeded")
	}
}

// TestEndpointPolicy checks which endpoints New accepts.
func TestEndpointPolicy(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		endpoint string
		insecure bool
		ok       bool
	}{
		{"https://s3.example.test", false, true},
		{"http://127.0.0.1:9000", false, false},
		{"http://127.0.0.1:9000", true, true},
		{"http://127.1.2.3:9000", true, true},
		{"http://[::1]:9000", true, true},
		{"http://localhost:9000", true, true},
		{"http://s3.example.test", true, false},
		{"http://10.0.0.1:9000", true, false},
		{"http://localhost.example.test", true, false},
		{"ftp://127.0.0.1", true, false},
	} {
		cfg := s3.Config{Bucket: "b", Endpoint: tc.endpoint, InsecureHTTP: tc.insecure, Region: "us-east-1"}
		_, err := s3.New(ctx, cfg)
		if (err == nil) != tc.ok {
			t.Errorf("New(%s, insecure=%v) = %v, want ok=%v", tc.endpoint, tc.insecure, err, tc.ok)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
	if _, err := s3.New(ctx, s3.Config{Bucket: "b", Region: "us-east-1"}); err == nil {
		t.Error("New accepted a plain-HTTP endpoint from AWS_ENDPOINT_URL_S3 without InsecureHTTP")
	}
}

// TestUnreachableIsBounded checks that a closed loopback port fails with
// ErrUnavailable after the bounded retries, well within 30 seconds.
func TestUnreachableIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	st := newStore(t, s3.Config{Bucket: "b", Endpoint: "http://" + addr, InsecureHTTP: true,
		Region: "us-east-1", PathStyle: true, Credentials: staticCreds()})
	start := time.Now()
	_, err = st.Get(context.Background(), "k")
	elapsed := time.Since(start)
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("Get from a closed port = %v, want ErrUnavailable", err)
	}
	if elapsed > 30*time.Second {
		t.Fatalf("Get from a closed port took %v, want under 30s", elapsed)
	}
	t.Logf("unreachable endpoint failed after %v: %v", elapsed, err)
}

// TestHungServerIsBounded checks that a server which accepts connections
// but never answers fails each attempt at AttemptTimeout and the whole
// request with ErrUnavailable once the attempts are spent.
func TestHungServerIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // hold it open, say nothing
		}
	}()
	st := newStore(t, s3.Config{Bucket: "b", Endpoint: "http://" + l.Addr().String(), InsecureHTTP: true,
		Region: "us-east-1", PathStyle: true, Credentials: staticCreds(),
		AttemptTimeout: 300 * time.Millisecond, MaxAttempts: 3})
	start := time.Now()
	_, err = st.Head(context.Background(), "k")
	elapsed := time.Since(start)
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("Head on a silent server = %v, want ErrUnavailable", err)
	}
	if elapsed < 900*time.Millisecond || elapsed > 15*time.Second {
		t.Fatalf("Head on a silent server took %v; want 3 attempts of 300ms plus backoff", elapsed)
	}
	t.Logf("silent server failed after %v: %v", elapsed, err)
}
