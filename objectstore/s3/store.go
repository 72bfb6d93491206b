package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"coffer/objectstore"
)

// Store is an objectstore.Store on one S3 bucket (and optional prefix).
// It is safe for concurrent use.
type Store struct {
	client *awss3.Client
	cfg    Config // defaulted and validated; never changed after New
}

var _ objectstore.Store = (*Store)(nil)

// New checks cfg, loads credentials from the standard AWS chain and
// returns a Store. It refuses plain-HTTP endpoints except to loopback with
// cfg.InsecureHTTP. It makes no request, so a missing bucket shows up on
// first use (as ErrNoBucket).
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Store{client: client, cfg: cfg}, nil
}

// objectKey maps a store key to the bucket's key.
func (s *Store) objectKey(key string) string { return s.cfg.Prefix + key }

// sha256Base64 is the checksum form S3's x-amz-checksum-sha256 carries.
func sha256Base64(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Put stores data under key if and only if key is absent, using a
// conditional write (If-None-Match: *), a SHA-256 checksum the server
// verifies, and object-lock retention when ret is set. Objects larger
// than the multipart threshold are uploaded in parts. It returns the
// version ID the server gave the new object (empty on an unversioned
// bucket).
func (s *Store) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return "", err
	}
	if int64(len(data)) > s.cfg.MultipartThreshold {
		return s.putMultipart(ctx, key, data, ret)
	}
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.objectKey(key)),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(sha256Base64(data)),
	}
	if !ret.IsZero() {
		in.ObjectLockMode = lockMode(ret.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(ret.Until)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", translateError("put", key, err)
	}
	return aws.ToString(out.VersionId), nil
}

// lockMode maps a retention mode to S3's; empty means COMPLIANCE, the
// stricter default.
func lockMode(m objectstore.Mode) types.ObjectLockMode {
	if m == objectstore.Governance {
		return types.ObjectLockModeGovernance
	}
	return types.ObjectLockModeCompliance
}

// Get returns the whole object. When the server reports a whole-object
// SHA-256 checksum (every single-part Put sends one), the bytes are
// checked against it and a mismatch is ErrCorrupt. Multipart objects carry
// a checksum of their parts' checksums, which S3 verified at upload; it is
// not re-verified here.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return nil, err
	}
	return s.readRetrying(ctx, func() ([]byte, error) { return s.get(ctx, key, "") })
}

// get is one attempt of Get, or of GetVersion when versionID is set.
func (s *Store) get(ctx context.Context, key, versionID string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket:       aws.String(s.cfg.Bucket),
		Key:          aws.String(s.objectKey(key)),
		VersionId:    optional(versionID),
		ChecksumMode: types.ChecksumModeEnabled,
	}, verifyOurselves)
	if err != nil {
		return nil, translateError("get", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, cutBody("get", key, err)
	}
	if out.ContentLength != nil && int64(len(data)) != *out.ContentLength {
		return nil, bodyError{fmt.Errorf("s3 get %s: %w: read %d bytes, expected %d",
			key, objectstore.ErrCorrupt, len(data), *out.ContentLength)}
	}
	if want := aws.ToString(out.ChecksumSHA256); want != "" && !strings.Contains(want, "-") &&
		out.ChecksumType != types.ChecksumTypeComposite {
		if got := sha256Base64(data); got != want {
			return nil, fmt.Errorf("s3 get %s: %w: sha256 %s, stored %s",
				key, objectstore.ErrCorrupt, got, want)
		}
	}
	return data, nil
}

// sdkChecksumCheck names the SDK middleware that verifies response
// checksums; its mismatch error is unexported and only recognisable by its
// text, so Get removes it and verifies the bytes itself, which lets a
// mismatch be reported as ErrCorrupt.
const sdkChecksumCheck = "AWSChecksum:ValidateOutputPayloadChecksum"

// verifyOurselves is the per-request option that removes sdkChecksumCheck.
func verifyOurselves(o *awss3.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		// Remove fails only if the step is absent (another SDK layout),
		// and then nothing verifies before Get does, which is the aim.
		_, _ = stack.Deserialize.Remove(sdkChecksumCheck)
		return nil
	})
}

// GetRange returns exactly length bytes from off, using a Range request.
// A range that reaches past the object's end is ErrInvalidRange.
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	return s.readRange(ctx, key, "", off, length)
}

// readRange is GetRange, or GetVersionRange when versionID is set.
func (s *Store) readRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return nil, err
	}
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("s3 get %s [%d,+%d): %w", key, off, length, objectstore.ErrInvalidRange)
	}
	if length == 0 {
		// HTTP cannot ask for zero bytes; check the range against the size.
		info, err := s.head(ctx, key, versionID)
		if err != nil {
			return nil, err
		}
		if off > info.Size {
			return nil, fmt.Errorf("s3 get %s [%d,+0): size %d: %w", key, off, info.Size, objectstore.ErrInvalidRange)
		}
		return []byte{}, nil
	}
	return s.readRetrying(ctx, func() ([]byte, error) { return s.getRange(ctx, key, versionID, off, length) })
}

// getRange is one attempt of readRange for a length above zero.
func (s *Store) getRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: optional(versionID),
		Range:     aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
	})
	if err != nil {
		return nil, translateError("get range", key, err)
	}
	defer out.Body.Close()
	if cr := aws.ToString(out.ContentRange); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", off)) {
		return nil, fmt.Errorf("s3 get %s [%d,+%d): server answered range %q", key, off, length, cr)
	}
	// Read one byte more than asked so a server that ignores Range (and
	// sends the whole object) is caught rather than trusted. One buffer
	// of that size: io.ReadAll's growing one cost a pack read whole
	// more in copying and clearing than decrypting it.
	data := make([]byte, 0, length+1)
	for len(data) < cap(data) {
		n, err := out.Body.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, cutBody("get range", key, err)
		}
	}
	if int64(len(data)) != length {
		return nil, fmt.Errorf("s3 get %s [%d,+%d): got %d bytes: %w",
			key, off, length, len(data), objectstore.ErrInvalidRange)
	}
	return data, nil
}
