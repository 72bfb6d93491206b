package s3

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

// The Probe methods are the raw S3 requests `coffer doctor` makes on its
// canary objects (keys under doctor/) to prove what the bucket and the
// credentials in use allow. They are outside the Store contract on
// purpose: several do what coffer itself never does (delete a version,
// place a delete marker, rewrite bucket settings), and each reports the
// server's answer as it is, without the guards the Store methods add.
// Errors are translated like every other request's (ErrPermission for a
// 403, and so on).

// ProbeVersioning returns the bucket's versioning status as the server
// reports it: "Enabled", "Suspended", or "" for never enabled.
func (s *Store) ProbeVersioning(ctx context.Context) (string, error) {
	out, err := s.client.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return "", translateError("get bucket versioning", s.cfg.Bucket, err)
	}
	return string(out.Status), nil
}

// ProbeObjectLock reports whether the bucket has object lock enabled and
// the mode of its default retention rule ("" if it has none).
func (s *Store) ProbeObjectLock(ctx context.Context) (bool, objectstore.Mode, error) {
	out, err := s.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{
		Bucket: aws.String(s.cfg.Bucket)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ObjectLockConfigurationNotFoundError" {
		return false, "", nil
	}
	if err != nil {
		return false, "", translateError("get object lock configuration", s.cfg.Bucket, err)
	}
	c := out.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return false, "", nil
	}
	var mode objectstore.Mode
	if c.Rule != nil && c.Rule.DefaultRetention != nil {
		mode = objectstore.Mode(c.Rule.DefaultRetention.Mode)
	}
	return true, mode, nil
}

// ProbeConditionalPut writes data at key with If-None-Match: * and no
// retention, and returns the HTTP status of the answer (200 stored, 412
// refused because the key exists, 501 the server lacks conditional
// writes) with the version ID created, if any. err is set for any answer
// but 200.
func (s *Store) ProbeConditionalPut(ctx context.Context, key string, data []byte) (int, string, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return 0, "", err
	}
	out, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.objectKey(key)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(sha256Base64(data)),
	})
	if err == nil {
		return http.StatusOK, aws.ToString(out.VersionId), nil
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return status, "", translateError("probe conditional put", key, err)
}

// ProbePutRetention sends PutObjectRetention for one version as asked,
// earlier dates and other modes included: the server alone decides.
func (s *Store) ProbePutRetention(ctx context.Context, key, versionID string, ret objectstore.Retention) error {
	_, err := s.client.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.objectKey(key)), VersionId: aws.String(versionID),
		Retention: &types.ObjectLockRetention{
			Mode:            types.ObjectLockRetentionMode(lockMode(ret.Mode)),
			RetainUntilDate: aws.Time(ret.Until),
		},
	})
	return translateError("probe put retention", key, err)
}

// ProbeRetention returns one version's retention (zero if it has none),
// read with GetObjectRetention: versitygw's HeadObject of a version that
// is no longer the current one carries no lock fields.
func (s *Store) ProbeRetention(ctx context.Context, key, versionID string) (objectstore.Retention, error) {
	info, err := s.retention(ctx, key, versionID)
	if err != nil {
		return objectstore.Retention{}, err
	}
	return objectstore.Retention{Mode: info.Mode, Until: info.RetainUntil}, nil
}

// ProbeDeleteVersion deletes one version, with the header that bypasses
// GOVERNANCE retention if asked.
func (s *Store) ProbeDeleteVersion(ctx context.Context, key, versionID string, bypassGovernance bool) error {
	in := &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.objectKey(key)),
		VersionId: aws.String(versionID)}
	if bypassGovernance {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	_, err := s.client.DeleteObject(ctx, in)
	return translateError("probe delete version", key, err)
}

// ProbeDeleteMarker sends a DELETE without a version ID, which on a
// versioned bucket places a delete marker.
func (s *Store) ProbeDeleteMarker(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket),
		Key: aws.String(s.objectKey(key))})
	return translateError("probe delete marker", key, err)
}

// ProbeRewriteVersioning writes the versioning status Enabled, which the
// caller has just read, so an accepted write changes nothing but proves
// the credentials could change it.
func (s *Store) ProbeRewriteVersioning(ctx context.Context) error {
	_, err := s.client.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{
		Bucket:                  aws.String(s.cfg.Bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	return translateError("probe put bucket versioning", s.cfg.Bucket, err)
}

// ProbeRewriteObjectLock reads the bucket's object lock configuration and
// writes it back unchanged: an accepted write proves the credentials could
// change it (remove a default rule, or set a shorter one).
func (s *Store) ProbeRewriteObjectLock(ctx context.Context) error {
	out, err := s.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{
		Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return translateError("get object lock configuration", s.cfg.Bucket, err)
	}
	_, err = s.client.PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{
		Bucket: aws.String(s.cfg.Bucket), ObjectLockConfiguration: out.ObjectLockConfiguration})
	return translateError("probe put object lock configuration", s.cfg.Bucket, err)
}
