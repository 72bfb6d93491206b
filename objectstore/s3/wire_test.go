package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"coffer/objectstore"
	"coffer/objectstore/s3/s3test"
)

// These tests look beneath the Store API, with a plain SDK client, at what
// the server was sent and what it kept, so a passing conformance run
// cannot hide a backend that only appears to honour the contract.

// rawClient returns an SDK client for srv that bypasses the backend.
func rawClient(srv *s3test.Server) *awss3.Client {
	cfg := srv.Config("", "")
	return awss3.New(awss3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  cfg.Credentials,
	})
}

// versions lists every version and delete marker of key in bucket.
func versions(t *testing.T, c *awss3.Client, bucket, key string) (vers, markers int) {
	t.Helper()
	out, err := c.ListObjectVersions(context.Background(), &awss3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(key),
	})
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			vers++
		}
	}
	for _, m := range out.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			markers++
		}
	}
	return vers, markers
}

// TestWireSemantics checks, on the bucket itself, that a Put stores the
// SHA-256 checksum, that a refused Put leaves a single version (the
// server honoured If-None-Match rather than writing a new version), and
// that Delete removes the version instead of hiding it behind a marker.
func TestWireSemantics(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	st := newStore(t, srv.Config(bucket, "w"))
	raw := rawClient(srv)
	ctx := context.Background()
	data := []byte("checksummed bytes")
	if _, err := st.Put(ctx, "k", data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	head, err := raw.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("w/k"), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := aws.ToString(head.ChecksumSHA256), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("stored SHA-256 checksum %q, want %q", got, want)
	}
	if _, err := st.Put(ctx, "k", []byte("other"), objectstore.Retention{}); !errors.Is(err, objectstore.ErrExists) {
		t.Fatalf("second Put = %v, want ErrExists", err)
	}
	if v, m := versions(t, raw, bucket, "w/k"); v != 1 || m != 0 {
		t.Fatalf("after a refused Put: %d versions, %d delete markers; want 1, 0", v, m)
	}
	if err := st.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if v, m := versions(t, raw, bucket, "w/k"); v != 0 || m != 0 {
		t.Fatalf("after Delete: %d versions, %d delete markers; want 0, 0", v, m)
	}
}

// TestGetDetectsCorruption damages an object behind the server's back:
// Get must report ErrCorrupt, while GetRange (unverified) returns the
// stored bytes exactly.
func TestGetDetectsCorruption(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	st := newStore(t, srv.Config(bucket, "c"))
	ctx := context.Background()
	data := bytes.Repeat([]byte("abcdefgh"), 64)
	if _, err := st.Put(ctx, "obj", data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(srv.RootDir, bucket, "c", "obj")
	damaged := bytes.Clone(data)
	damaged[100] ^= 0xff
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatalf("damage the object file: %v", err)
	}
	if _, err := st.Get(ctx, "obj"); !errors.Is(err, objectstore.ErrCorrupt) {
		t.Fatalf("Get of a damaged object = %v, want ErrCorrupt", err)
	}
	got, err := st.GetRange(ctx, "obj", 96, 8)
	if err != nil || !bytes.Equal(got, damaged[96:104]) {
		t.Fatalf("GetRange = %q, %v; want %q", got, err, damaged[96:104])
	}
}

// TestListSpansPages proves that 1,100 keys take more than one
// ListObjectsV2 page on this server, so List's complete answer came from
// following continuation tokens.
func TestListSpansPages(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, false)
	st := newStore(t, srv.Config(bucket, "p"))
	ctx := context.Background()
	const n = 1100
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := w; i < n; i += 10 {
				if _, err := st.Put(ctx, fmt.Sprintf("k%05d", i), []byte("x"), objectstore.Retention{}); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	wg.Wait()
	page, err := rawClient(srv).ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String("p/"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(page.IsTruncated) || len(page.Contents) >= n {
		t.Fatalf("first page: %d keys, truncated %v; the server did not paginate", len(page.Contents), aws.ToBool(page.IsTruncated))
	}
	count := 0
	if err := st.List(ctx, "", func(objectstore.Info) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("List saw %d keys, want %d", count, n)
	}
}
