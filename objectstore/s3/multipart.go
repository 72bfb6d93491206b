package s3

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"coffer/objectstore"
)

// putMultipart uploads data in parts of cfg.PartSize, each with its own
// SHA-256 checksum, and completes the upload with If-None-Match: * so the
// object appears only if the key is still free. Any failure aborts the
// upload so no parts linger in the bucket. It returns the new version's
// ID.
func (s *Store) putMultipart(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	create := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.objectKey(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if !ret.IsZero() {
		create.ObjectLockMode = lockMode(ret.Mode)
		create.ObjectLockRetainUntilDate = aws.Time(ret.Until)
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return "", translateError("put (create multipart)", key, err)
	}
	var versionID string
	parts, err := s.uploadParts(ctx, key, up.UploadId, data)
	if err == nil {
		var out *awss3.CompleteMultipartUploadOutput
		out, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.cfg.Bucket),
			Key:             aws.String(s.objectKey(key)),
			UploadId:        up.UploadId,
			IfNoneMatch:     aws.String("*"),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		if err == nil {
			versionID = aws.ToString(out.VersionId)
		}
		err = translateError("put (complete multipart)", key, err)
	}
	if err != nil {
		s.abort(key, up.UploadId)
		return "", err
	}
	return versionID, nil
}

// uploadParts sends data's parts in order and returns what Complete needs.
func (s *Store) uploadParts(ctx context.Context, key string, uploadID *string, data []byte) ([]types.CompletedPart, error) {
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < int64(len(data)); n++ {
		end := min(off+s.cfg.PartSize, int64(len(data)))
		chunk := data[off:end]
		sum := sha256Base64(chunk)
		out, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:            aws.String(s.cfg.Bucket),
			Key:               aws.String(s.objectKey(key)),
			UploadId:          uploadID,
			PartNumber:        aws.Int32(n),
			Body:              bytes.NewReader(chunk),
			ContentLength:     aws.Int64(int64(len(chunk))),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
			ChecksumSHA256:    aws.String(sum),
		})
		if err != nil {
			return nil, translateError(fmt.Sprintf("put (part %d)", n), key, err)
		}
		parts = append(parts, types.CompletedPart{
			ETag:           out.ETag,
			PartNumber:     aws.Int32(n),
			ChecksumSHA256: aws.String(sum),
		})
		off = end
	}
	return parts, nil
}

// abort cancels an unfinished upload on a fresh, bounded context, since
// the caller's may be the reason the upload failed.
func (s *Store) abort(key string, uploadID *string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AttemptTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.cfg.Bucket),
		Key:      aws.String(s.objectKey(key)),
		UploadId: uploadID,
	})
	if err != nil {
		s.cfg.Logger.Warn("s3: abort multipart upload failed; parts may linger until a lifecycle rule removes them",
			"key", key, "err", translateError("abort multipart", key, err))
	}
}
