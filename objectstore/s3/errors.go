package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

// translateError is the one place SDK and network errors become the
// objectstore sentinels. The result wraps both the sentinel and the
// original error, with the operation and key for context. Cancellation
// passes through without a sentinel so callers can tell an interruption
// from a failure. Deadlines do not: the transport's own per-attempt
// timeouts also match context.DeadlineExceeded, and a store that did not
// answer in time is unavailable (the result still matches the deadline).
func translateError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("s3 %s %s: %w", op, key, err)
	}
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("s3 %s %s: %w: %w", op, key, sentinel, err)
	}
	return fmt.Errorf("s3 %s %s: %w", op, key, err)
}

// classify returns the sentinel for err, or nil when none fits.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return objectstore.ErrNotFound
		case "MethodNotAllowed":
			// S3's answer to a GET, HEAD or retention change of a version
			// that is a delete marker: no object there.
			return objectstore.ErrNotFound
		case "NoSuchBucket":
			return objectstore.ErrNoBucket
		case "PreconditionFailed", "ConditionalRequestConflict":
			// 409 ConditionalRequestConflict means another conditional
			// write of the same key raced ours; whichever finishes, the
			// key is taken, so ours must not be retried as a new write.
			return objectstore.ErrExists
		case "InvalidRange":
			return objectstore.ErrInvalidRange
		case "ObjectLocked":
			return objectstore.ErrRetained
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId",
			"SignatureDoesNotMatch", "AllAccessDisabled":
			return objectstore.ErrPermission
		case "SlowDown", "ServiceUnavailable", "InternalError",
			"RequestTimeout", "RequestTimeTooSkewed", "Throttling":
			return objectstore.ErrUnavailable
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch code := respErr.HTTPStatusCode(); {
		case code == http.StatusNotFound, code == http.StatusMethodNotAllowed:
			return objectstore.ErrNotFound
		case code == http.StatusPreconditionFailed:
			return objectstore.ErrExists
		case code == http.StatusRequestedRangeNotSatisfiable:
			return objectstore.ErrInvalidRange
		case code == http.StatusForbidden || code == http.StatusUnauthorized:
			return objectstore.ErrPermission
		case code >= 500:
			return objectstore.ErrUnavailable
		}
	}
	// A certificate that does not verify is a configuration problem, not
	// an outage; retrying or calling it "unavailable" would mislead.
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return nil
	}
	var maxErr *retry.MaxAttemptsError
	if errors.As(err, &maxErr) {
		return objectstore.ErrUnavailable
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return objectstore.ErrUnavailable
	}
	return nil
}
