package s3test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

// Intruder does, on one bucket and prefix, what someone holding coffer's
// credentials can do outside coffer's rules: put over a key without
// If-None-Match, hide it behind a delete marker (a DELETE without a
// version ID, which object lock does not prevent), delete one version. It
// talks to the server with a plain SDK client, not through the backend.
// Its methods match objectstore/memory's intruder methods, so a scenario
// runs on both (storetest.Intruder).
type Intruder struct {
	t      testing.TB
	client *awss3.Client
	bucket string
	prefix string
}

// Intruder returns an intruder on bucket and prefix holding the root
// user's credentials (or, with creds, those). Its failures fail t.
func (srv *Server) Intruder(t testing.TB, bucket, prefix string, creds ...aws.CredentialsProvider) *Intruder {
	t.Helper()
	var provider aws.CredentialsProvider = credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")
	if len(creds) > 0 {
		provider = creds[0]
	}
	hc := awshttp.NewBuildableClient()
	if srv.CAFile != "" {
		pem, err := os.ReadFile(srv.CAFile)
		if err != nil {
			t.Fatalf("s3test intruder: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		hc = hc.WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		})
	}
	client := awss3.New(awss3.Options{
		Region:       srv.Region,
		Credentials:  provider,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		HTTPClient:   hc,
	})
	return &Intruder{t: t, client: client, bucket: bucket, prefix: prefix}
}

// ctx bounds one request.
func (in *Intruder) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// Overwrite puts data over key as a new version and returns its ID.
func (in *Intruder) Overwrite(key string, data []byte) (versionID string) {
	in.t.Helper()
	ctx, cancel := in.ctx()
	defer cancel()
	out, err := in.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(in.bucket),
		Key:    aws.String(in.prefix + key),
		Body:   bytes.NewReader(data),
	})
	if err != nil {
		in.t.Fatalf("s3test intruder: put over %s: %v", key, err)
	}
	return aws.ToString(out.VersionId)
}

// Hide places a delete marker on key and returns the marker's version ID.
func (in *Intruder) Hide(key string) (versionID string) {
	in.t.Helper()
	ctx, cancel := in.ctx()
	defer cancel()
	out, err := in.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(in.bucket),
		Key:    aws.String(in.prefix + key),
	})
	if err != nil {
		in.t.Fatalf("s3test intruder: hide %s: %v", key, err)
	}
	if !aws.ToBool(out.DeleteMarker) || aws.ToString(out.VersionId) == "" {
		in.t.Fatalf("s3test intruder: hide %s placed no delete marker (marker %v, version %q)",
			key, aws.ToBool(out.DeleteMarker), aws.ToString(out.VersionId))
	}
	return aws.ToString(out.VersionId)
}

// DeleteVersion deletes one version or marker of key. A refusal (S3
// answers 403 AccessDenied for a retained version, some servers
// ObjectLocked) is objectstore.ErrRetained; the caller knows whether the
// version is retained, so a refusal for another reason still fails its
// test as the wrong answer.
func (in *Intruder) DeleteVersion(ctx context.Context, key, versionID string) error {
	_, err := in.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket:    aws.String(in.bucket),
		Key:       aws.String(in.prefix + key),
		VersionId: aws.String(versionID),
	})
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AccessDenied", "ObjectLocked":
			return fmt.Errorf("s3test intruder: delete %s version %s: %w: %w", key, versionID, objectstore.ErrRetained, err)
		case "NoSuchKey", "NoSuchVersion", "NotFound":
			return fmt.Errorf("s3test intruder: delete %s version %s: %w: %w", key, versionID, objectstore.ErrNotFound, err)
		}
	}
	return fmt.Errorf("s3test intruder: delete %s version %s: %w", key, versionID, err)
}
