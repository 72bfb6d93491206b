package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/objectstore"
)

var (
	_ objectstore.LegalHolder  = (*Store)(nil)
	_ objectstore.DeleteProber = (*Store)(nil)
)

// DeleteVersion removes one version or delete marker with DeleteObject
// and its version ID, never with the header that bypasses GOVERNANCE
// retention.
//
// S3 answers the DELETE of an unknown version ID with success (the delete
// is idempotent), so a HEAD of that version comes first to give the
// contract's ErrNotFound (one more request per version, like the legal
// hold's below; prune deletes few objects beside what it reads). S3 refuses a locked
// version with 403 AccessDenied (versitygw: ObjectLocked), which alone
// cannot be told from credentials that may not delete: the version's
// retention and legal hold, read after a refusal, decide between
// ErrRetained and ErrPermission.
//
// A legal hold is checked before the DELETE, not only by the server:
// versitygw v1.8.0 ignores the hold of a version whose retention has
// lapsed (docs/STORE.md), and a hold exists to stop exactly this call.
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	if versionID == "" {
		return fmt.Errorf("s3 delete %s: empty version ID: %w", key, objectstore.ErrNotFound)
	}
	marker, err := s.versionExists(ctx, key, versionID)
	if err != nil {
		return err
	}
	if !marker {
		// Only an outage stops here: a bucket without object lock (400
		// InvalidRequest) or credentials that may not read holds leave
		// the decision to the server, as without this check.
		held, err := s.LegalHold(ctx, key, versionID)
		if errors.Is(err, objectstore.ErrUnavailable) || errors.Is(err, context.Canceled) {
			return err
		}
		if held {
			return fmt.Errorf("s3 delete %s version %s: under a legal hold: %w", key, versionID, objectstore.ErrRetained)
		}
	}
	_, err = s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: aws.String(versionID),
	})
	if err == nil {
		return nil
	}
	err = translateError("delete version", key, err)
	if errors.Is(err, objectstore.ErrPermission) && s.locked(ctx, key, versionID) {
		return fmt.Errorf("s3 delete %s version %s: locked: %w: %w", key, versionID, objectstore.ErrRetained, err)
	}
	return err
}

// versionExists returns nil if key has a version or delete marker with
// that ID, saying whether it is a marker, and ErrNotFound if it has
// none. A HEAD of a delete marker's ID is answered 405 Method Not
// Allowed, which says the marker is there.
func (s *Store) versionExists(ctx context.Context, key, versionID string) (marker bool, err error) {
	_, err = s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: aws.String(versionID),
	})
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusMethodNotAllowed {
		return true, nil
	}
	if err == nil {
		return false, nil
	}
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusBadRequest {
		// A malformed version ID names no version.
		return false, fmt.Errorf("s3 delete %s version %q: %w: %w", key, versionID, objectstore.ErrNotFound, err)
	}
	err = translateError("delete version: head", key, err)
	if errors.Is(err, objectstore.ErrNotFound) {
		return false, s.bucketMissing(ctx, err)
	}
	return false, err
}

// locked reports whether one version's retention is still in force by
// the store's clock or a legal hold is on it. A lock that cannot be read
// counts as none: the caller then reports the refusal as it came.
func (s *Store) locked(ctx context.Context, key, versionID string) bool {
	if info, err := s.retention(ctx, key, versionID); err == nil && !info.RetainUntil.IsZero() {
		if now, err := s.Now(ctx); err == nil && info.RetainUntil.After(now) {
			return true
		}
	}
	held, err := s.LegalHold(ctx, key, versionID)
	return err == nil && held
}

// SetLegalHold places or clears the legal hold on one version with
// PutObjectLegalHold. The bucket must have object lock.
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := objectstore.CheckKey(key); err != nil {
		return err
	}
	if versionID == "" {
		return fmt.Errorf("s3 legal hold %s: empty version ID: %w", key, objectstore.ErrNotFound)
	}
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	_, err := s.client.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: aws.String(versionID),
		LegalHold: &types.ObjectLockLegalHold{Status: status},
	})
	return translateError("put legal hold", key, err)
}

// LegalHold reads one version's legal hold with GetObjectLegalHold. A
// version that never had one is not held: S3 answers that with
// NoSuchObjectLockConfiguration.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return false, err
	}
	if versionID == "" {
		return false, fmt.Errorf("s3 legal hold %s: empty version ID: %w", key, objectstore.ErrNotFound)
	}
	out, err := s.client.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.objectKey(key)),
		VersionId: aws.String(versionID),
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchObjectLockConfiguration" {
		return false, nil
	}
	if err != nil {
		return false, translateError("get legal hold", key, err)
	}
	return out.LegalHold != nil && out.LegalHold.Status == types.ObjectLockLegalHoldStatusOn, nil
}

// canaryLock is the lock of CanDeleteVersions' canary: explicit, since an
// explicit retention overrides a bucket's default rule (which could be
// days), and short so that waiting for it is cheap. Two seconds on a
// clock read to the second is at least one second in the future.
const canaryLock = 2 * time.Second

// CanDeleteVersions proves, with a real request, whether these
// credentials may delete versions: it writes a canary under doctor/ with
// a two-second lock (none on a bucket without object lock), waits by the
// store's clock until the lock has lapsed, and deletes that version. Once nothing is locked, only a
// denied permission can refuse (ErrPermission: false); a deletion that
// succeeds removes the canary (true). Credentials that cannot write the
// canary cannot be judged, and the refusal is the error. The canary of a
// refused deletion stays, unlocked, beside doctor's.
func (s *Store) CanDeleteVersions(ctx context.Context) (bool, error) {
	now, err := s.Now(ctx)
	if err != nil {
		return false, err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return false, err
	}
	key := "doctor/" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:]) + "/can-delete-versions"
	// A bucket without object lock refuses a retention (400), and has no
	// default rule to override: then the canary goes unlocked.
	locked, err := s.ObjectLockEnabled(ctx)
	if err != nil {
		return false, fmt.Errorf("s3: read the bucket's object lock for the delete-permission canary: %w", err)
	}
	var ret objectstore.Retention
	if locked {
		ret = objectstore.Retention{Mode: objectstore.Compliance, Until: now.Truncate(time.Second).Add(canaryLock)}
	}
	vid, err := s.Put(ctx, key, []byte("coffer canary: may these credentials delete versions?\n"), ret)
	if err != nil {
		return false, fmt.Errorf("s3: write the delete-permission canary: %w", err)
	}
	if locked {
		if err := s.waitPast(ctx, ret.Until); err != nil {
			return false, err
		}
	}
	err = s.DeleteVersion(ctx, key, vid)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objectstore.ErrPermission):
		return false, nil
	}
	return false, fmt.Errorf("s3: delete the delete-permission canary: %w", err)
}

// waitPast returns once the store's clock is past t, a whole second: the
// Date header is truncated to the second, so a later reading means t has
// passed.
func (s *Store) waitPast(ctx context.Context, t time.Time) error {
	for {
		now, err := s.Now(ctx)
		if err != nil {
			return err
		}
		if now.After(t) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
