package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// intruder acts on a repository's bucket as someone holding a set of S3
// credentials can, outside coffer's rules, with a plain SDK client. Each
// method makes one request and returns the server's answer: the proof,
// not the intruder, decides which must have been refused.
type intruder struct {
	c      *awss3.Client
	bucket string
	prefix string // the repository's prefix with its trailing slash
}

// newIntruder holds access and secret on the server at endpoint (plain
// HTTP, path-style), for the repository at bucket/prefix.
func newIntruder(endpoint, region, bucket, prefix, access, secret string) *intruder {
	c := awss3.New(awss3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	return &intruder{c: c, bucket: bucket, prefix: strings.TrimSuffix(prefix, "/") + "/"}
}

// objVersion is one version or delete marker, its key relative to the
// repository's prefix.
type objVersion struct {
	key    string
	id     string
	marker bool
}

// versions lists every version and delete marker under the repository.
func (in *intruder) versions(ctx context.Context) ([]objVersion, error) {
	var out []objVersion
	p := awss3.NewListObjectVersionsPaginator(in.c, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(in.bucket), Prefix: aws.String(in.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			out = append(out, objVersion{key: strings.TrimPrefix(aws.ToString(v.Key), in.prefix), id: aws.ToString(v.VersionId)})
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, objVersion{key: strings.TrimPrefix(aws.ToString(m.Key), in.prefix), id: aws.ToString(m.VersionId), marker: true})
		}
	}
	return out, nil
}

func (in *intruder) key(k string) *string { return aws.String(in.prefix + k) }

// deleteVersion deletes one version for good.
func (in *intruder) deleteVersion(ctx context.Context, key, id string) error {
	_, err := in.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(in.bucket), Key: in.key(key), VersionId: aws.String(id)})
	return err
}

// bypassDelete deletes one version with the governance bypass header.
func (in *intruder) bypassDelete(ctx context.Context, key, id string) error {
	_, err := in.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(in.bucket), Key: in.key(key),
		VersionId: aws.String(id), BypassGovernanceRetention: aws.Bool(true)})
	return err
}

// hide places a delete marker on key (a DELETE without a version ID).
func (in *intruder) hide(ctx context.Context, key string) error {
	out, err := in.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(in.bucket), Key: in.key(key)})
	if err == nil && !aws.ToBool(out.DeleteMarker) {
		return fmt.Errorf("hide %s: the answer names no delete marker", key)
	}
	return err
}

// overwrite puts data over key as a new version (no If-None-Match).
func (in *intruder) overwrite(ctx context.Context, key string, data []byte) error {
	_, err := in.c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(in.bucket), Key: in.key(key), Body: bytes.NewReader(data)})
	return err
}

// retain sets one version's retention to mode until until: earlier than
// it was shortens it, GOVERNANCE on a COMPLIANCE version switches mode.
func (in *intruder) retain(ctx context.Context, key, id string, mode types.ObjectLockRetentionMode, until time.Time) error {
	_, err := in.c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String(in.bucket), Key: in.key(key),
		VersionId: aws.String(id), Retention: &types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(until)}})
	return err
}

// retention reads one version's retention.
func (in *intruder) retention(ctx context.Context, key, id string) (types.ObjectLockRetentionMode, time.Time, error) {
	out, err := in.c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(in.bucket), Key: in.key(key), VersionId: aws.String(id)})
	if err != nil {
		return "", time.Time{}, err
	}
	if out.Retention == nil {
		return "", time.Time{}, nil
	}
	return out.Retention.Mode, aws.ToTime(out.Retention.RetainUntilDate), nil
}

// plant writes data at a new key under COMPLIANCE retention until until,
// so that nobody, the owner included, can remove it before then.
func (in *intruder) plant(ctx context.Context, key string, data []byte, until time.Time) error {
	_, err := in.c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(in.bucket), Key: in.key(key), Body: bytes.NewReader(data),
		IfNoneMatch: aws.String("*"), ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
	return err
}

// suspendVersioning tries to turn the bucket's versioning off.
func (in *intruder) suspendVersioning(ctx context.Context) error {
	_, err := in.c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(in.bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	return err
}

// versioning reads the bucket's versioning status.
func (in *intruder) versioning(ctx context.Context) (types.BucketVersioningStatus, error) {
	out, err := in.c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(in.bucket)})
	if err != nil {
		return "", err
	}
	return out.Status, nil
}

// changeDefaultLock tries to make the bucket's default retention one
// day of GOVERNANCE.
func (in *intruder) changeDefaultLock(ctx context.Context) error {
	_, err := in.c.PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{Bucket: aws.String(in.bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{
			ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
				Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
		}})
	return err
}

// errorCode is the S3 error code of err, "OK" for none.
func errorCode(err error) string {
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	}
	return err.Error()
}
