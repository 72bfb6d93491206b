package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"coffer/objectstore/s3"
)

// cutServer serves one object at /b/k; the first cuts GET responses send
// the full headers and then only half the body before closing the
// connection, as a proxy or a server that dies mid-answer does.
func cutServer(t *testing.T, data []byte, cuts int64) (*httptest.Server, *atomic.Int64) {
	var gets atomic.Int64
	sum := sha256.Sum256(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || req.URL.Path != "/b/k" {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		n := gets.Add(1)
		body, status := data, http.StatusOK
		if rg := req.Header.Get("Range"); rg != "" {
			var from, to int
			if _, err := fmt.Sscanf(strings.TrimPrefix(rg, "bytes="), "%d-%d", &from, &to); err != nil {
				http.Error(w, "bad range", http.StatusBadRequest)
				return
			}
			body, status = data[from:to+1], http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
		} else {
			w.Header().Set("x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(sum[:]))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if n <= cuts {
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &gets
}

func cutStore(t *testing.T, endpoint string) *s3.Store {
	return newStore(t, s3.Config{
		Bucket: "b", Endpoint: endpoint, Region: "us-east-1", InsecureHTTP: true, PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("a", "s", ""),
		MaxAttempts: 2, // four reads of a cut body at most
	})
}

// A body cut off mid-transfer is a transient failure: whole and ranged
// reads are tried again, a bounded number of times.
func TestCutBodiesAreRetried(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	ctx := context.Background()

	srv, gets := cutServer(t, data, 2)
	got, err := cutStore(t, srv.URL).Get(ctx, "k")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after two cut bodies: %d bytes, %v", len(got), err)
	}
	if gets.Load() != 3 {
		t.Fatalf("Get made %d requests, want 3", gets.Load())
	}

	srv, _ = cutServer(t, data, 2)
	got, err = cutStore(t, srv.URL).GetRange(ctx, "k", 1000, 300000)
	if err != nil || !bytes.Equal(got, data[1000:301000]) {
		t.Fatalf("GetRange after two cut bodies: %d bytes, %v", len(got), err)
	}

	srv, gets = cutServer(t, data, 1000)
	if _, err := cutStore(t, srv.URL).Get(ctx, "k"); err == nil {
		t.Fatal("Get of an always cut body succeeded")
	}
	if n := gets.Load(); n != 4 {
		t.Fatalf("Get of an always cut body made %d requests, want 4 (twice MaxAttempts)", n)
	}
}
