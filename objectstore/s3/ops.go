package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

// Head returns the object's size, upload time, version and retention, as
// HeadObject reports them.
func (s *Store) Head(ctx context.Context, key string) (objectstore.Info, error) {
	return s.head(ctx, key, "")
}

// head is Head, of one version when versionID is set.
func (s *Store) head(ctx context.Context, key, versionID string) (objectstore.Info, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return objectstore.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: optional(versionID),
	})
	if err != nil {
		err = translateError("head", key, err)
		if errors.Is(err, objectstore.ErrNotFound) {
			err = s.bucketMissing(ctx, err)
		}
		return objectstore.Info{}, err
	}
	info := objectstore.Info{
		Key:       key,
		Size:      aws.ToInt64(out.ContentLength),
		Modified:  aws.ToTime(out.LastModified),
		VersionID: aws.ToString(out.VersionId),
	}
	if out.ObjectLockRetainUntilDate != nil {
		info.RetainUntil = *out.ObjectLockRetainUntilDate
		info.Mode = objectstore.Mode(out.ObjectLockMode)
	}
	return info, nil
}

// bucketMissing tells a missing bucket from a missing key after a HEAD
// request's bodiless 404, which cannot say which one it means: it returns
// an ErrNoBucket error if HeadBucket finds no bucket, else notFound.
func (s *Store) bucketMissing(ctx context.Context, notFound error) error {
	_, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err == nil {
		return notFound
	}
	err = translateError("head bucket", s.cfg.Bucket, err)
	if errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("s3 bucket %s: %w", s.cfg.Bucket, objectstore.ErrNoBucket)
	}
	return notFound
}

// List calls fn for every key under prefix in lexical order, following
// ListObjectsV2 continuation tokens across pages. Listed Infos carry key,
// size and upload time; retention and version need Head.
func (s *Store) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.objectKey(prefix)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translateError("list", prefix, err)
		}
		for _, obj := range page.Contents {
			info := objectstore.Info{
				Key:      aws.ToString(obj.Key)[len(s.cfg.Prefix):],
				Size:     aws.ToInt64(obj.Size),
				Modified: aws.ToTime(obj.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes the object's current version. On a versioned bucket a
// DeleteObject without a version only adds a delete marker, which object
// lock does not stop and which removes nothing; so Delete heads the object
// and deletes that exact version, which the server refuses while it is
// retained. The refusal (403 AccessDenied on S3) becomes ErrRetained when
// the object's retain-until date is still ahead.
func (s *Store) Delete(ctx context.Context, key string) error {
	info, err := s.Head(ctx, key)
	if err != nil {
		return err
	}
	in := &awss3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.objectKey(key)),
	}
	if info.VersionID != "" {
		in.VersionId = aws.String(info.VersionID)
	}
	_, err = s.client.DeleteObject(ctx, in)
	if err == nil {
		return nil
	}
	err = translateError("delete", key, err)
	if errors.Is(err, objectstore.ErrPermission) && info.RetainUntil.After(s.cfg.Clock()) {
		return fmt.Errorf("s3 delete %s: retained until %s: %w: %w",
			key, info.RetainUntil.UTC().Format("2006-01-02T15:04:05Z"), objectstore.ErrRetained, err)
	}
	if errors.Is(err, objectstore.ErrPermission) && info.VersionID != "" && s.locked(ctx, key, info.VersionID) {
		return fmt.Errorf("s3 delete %s: locked: %w: %w", key, objectstore.ErrRetained, err) // a legal hold
	}
	return err
}

// ExtendRetention extends the retention of the key's first version that
// is not a delete marker (found by listing its versions): the one coffer
// wrote, not whatever was put over it since.
func (s *Store) ExtendRetention(ctx context.Context, key string, ret objectstore.Retention) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	v, err := s.firstVersion(ctx, key)
	if err != nil {
		return err
	}
	return s.ExtendRetentionVersion(ctx, key, v.VersionID, ret)
}

// ExtendRetentionVersion sets one version's retain-until date to
// ret.Until if that is later than the present one (read first), keeping
// the present mode if there is one (S3 forbids weakening COMPLIANCE). An
// earlier or equal date is a no-op, so retention never shortens. An empty
// versionID means the current version, as on an unversioned bucket.
func (s *Store) ExtendRetentionVersion(ctx context.Context, key, versionID string, ret objectstore.Retention) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	info, err := s.retention(ctx, key, versionID)
	if err != nil {
		return err
	}
	if ret.IsZero() || !ret.Until.After(info.RetainUntil) {
		return nil
	}
	mode := ret.Mode
	if info.Mode != "" {
		mode = info.Mode
	}
	in := &awss3.PutObjectRetentionInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.objectKey(key)),
		Retention: &types.ObjectLockRetention{
			Mode:            types.ObjectLockRetentionMode(lockMode(mode)),
			RetainUntilDate: aws.Time(ret.Until),
		},
		VersionId: optional(versionID),
	}
	_, err = s.client.PutObjectRetention(ctx, in)
	return translateError("extend retention", key, err)
}

// retention reads one version's retention with GetObjectRetention, which
// answers for any version (versitygw's HeadObject reports lock fields for
// the current version only). A version without retention answers
// NoSuchObjectLockConfiguration; a bucket without object lock answers
// another error, and then HeadObject tells whether the version exists.
func (s *Store) retention(ctx context.Context, key, versionID string) (objectstore.Info, error) {
	out, err := s.client.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: optional(versionID),
	})
	info := objectstore.Info{Key: key, VersionID: versionID}
	var apiErr smithy.APIError
	switch {
	case err == nil:
		if r := out.Retention; r != nil && r.RetainUntilDate != nil {
			info.RetainUntil = *r.RetainUntilDate
			info.Mode = objectstore.Mode(r.Mode)
		}
		return info, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchObjectLockConfiguration":
		return info, nil
	}
	if err := translateError("get retention", key, err); errors.Is(err, objectstore.ErrNotFound) ||
		errors.Is(err, context.Canceled) {
		return objectstore.Info{}, err
	}
	return s.head(ctx, key, versionID)
}

// optional is nil for an empty string, so an unset version ID is not sent.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
