package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CreateBucket creates cfg.Bucket. With objectLock the bucket is created
// with object lock enabled, which also turns on versioning (S3 allows
// object lock only at creation). Without it, versioning is still enabled,
// since coffer's point-in-time reads rely on it. The region, endpoint and
// TLS rules are those of New.
func CreateBucket(ctx context.Context, cfg Config, objectLock bool) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	client, err := newClient(ctx, cfg)
	if err != nil {
		return err
	}
	in := &awss3.CreateBucketInput{
		Bucket:                     aws.String(cfg.Bucket),
		ObjectLockEnabledForBucket: aws.Bool(objectLock),
	}
	if region := client.Options().Region; region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	if _, err := client.CreateBucket(ctx, in); err != nil {
		return translateError("create bucket", cfg.Bucket, err)
	}
	_, err = client.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{
		Bucket: aws.String(cfg.Bucket),
		VersioningConfiguration: &types.VersioningConfiguration{
			Status: types.BucketVersioningStatusEnabled,
		},
	})
	if err != nil {
		return fmt.Errorf("s3: enable versioning on %s: %w", cfg.Bucket, translateError("put bucket versioning", cfg.Bucket, err))
	}
	return nil
}

// Ping makes one cheap signed request (ListBuckets) to check that the
// endpoint answers and accepts the credentials.
func Ping(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := checkEndpoint(cfg.Endpoint, cfg.InsecureHTTP); err != nil {
		return err
	}
	cfg.MaxAttempts = 1
	client, err := newClient(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = client.ListBuckets(ctx, &awss3.ListBucketsInput{})
	return translateError("list buckets", "", err)
}

// ObjectLockEnabled reports whether the bucket has object lock enabled,
// with one GetObjectLockConfiguration request (repo.Init asks before it
// writes anything). A bucket that never had object lock answers with an
// error code of its own, which means false here, not a failure.
func (s *Store) ObjectLockEnabled(ctx context.Context) (bool, error) {
	locked, _, err := s.ProbeObjectLock(ctx)
	return locked, err
}
