package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"coffer/objectstore"
)

// listed is one entry of a ListObjectVersions answer, with what ordering
// it needs.
type listed struct {
	v      objectstore.Version
	latest bool // the server's IsLatest
	seq    int  // position among the answer's entries of the same kind
}

// older orders one key's entries oldest first. S3 answers with versions
// and delete markers in two lists, each newest first, so the merge goes by
// upload time, to the second: servers differ in resolution, even between
// the two lists (versitygw lists versions to the second, markers to the
// microsecond). Within one second the server's IsLatest entry is newest,
// a version is taken as older than a marker (coffer writes each key once,
// before anyone can hide it), and entries of one kind keep the server's
// order. So a key's versions are always in order, and only a marker put
// between two versions within one second may be placed after both.
func older(a, b listed) int {
	if c := a.v.Modified.Truncate(time.Second).Compare(b.v.Modified.Truncate(time.Second)); c != 0 {
		return c
	}
	if a.latest != b.latest {
		if a.latest {
			return 1
		}
		return -1
	}
	if a.v.DeleteMarker != b.v.DeleteMarker {
		if a.v.DeleteMarker {
			return 1
		}
		return -1
	}
	return b.seq - a.seq
}

// errStopListing ends a listing early from inside its callback.
var errStopListing = errors.New("stop listing")

// ListVersions calls fn for every version and delete marker under prefix,
// keys in lexical order, each key's oldest first, following
// ListObjectVersions' key and version markers across pages. A key whose
// versions span pages is reported once all of them are in.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	return s.listVersions(ctx, prefix, 0, fn)
}

// listVersions is ListVersions with a page size (0: the server's).
func (s *Store) listVersions(ctx context.Context, prefix string, pageSize int32, fn func(objectstore.Version) error) error {
	in := &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.objectKey(prefix)),
	}
	if pageSize > 0 {
		in.MaxKeys = aws.Int32(pageSize)
	}
	p := awss3.NewListObjectVersionsPaginator(s.client, in)
	var key string
	var pending []listed
	flush := func() error {
		slices.SortStableFunc(pending, older)
		for _, e := range pending {
			if err := fn(e.v); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return nil
	}
	seq := 0
	add := func(e listed) error {
		if e.v.Key != key {
			if err := flush(); err != nil {
				return err
			}
			key = e.v.Key
		}
		for _, p := range pending {
			if p.v.VersionID == e.v.VersionID && p.v.DeleteMarker == e.v.DeleteMarker {
				return nil // a server that repeats a page's last entry on the next
			}
		}
		seq++
		e.seq = seq
		pending = append(pending, e)
		return nil
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translateError("list versions", prefix, err)
		}
		// Each list is in key order; merge the two by key so a key's
		// entries arrive together.
		vs, ms := page.Versions, page.DeleteMarkers
		for len(vs) > 0 || len(ms) > 0 {
			var e listed
			if len(ms) == 0 || (len(vs) > 0 && aws.ToString(vs[0].Key) <= aws.ToString(ms[0].Key)) {
				o := vs[0]
				vs = vs[1:]
				e = listed{v: objectstore.Version{Key: aws.ToString(o.Key), VersionID: aws.ToString(o.VersionId),
					Modified: aws.ToTime(o.LastModified), Size: aws.ToInt64(o.Size)}, latest: aws.ToBool(o.IsLatest)}
			} else {
				m := ms[0]
				ms = ms[1:]
				e = listed{v: objectstore.Version{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId),
					Modified: aws.ToTime(m.LastModified), DeleteMarker: true}, latest: aws.ToBool(m.IsLatest)}
			}
			k, ok := strings.CutPrefix(e.v.Key, s.cfg.Prefix)
			if !ok {
				continue
			}
			e.v.Key = k
			if err := add(e); err != nil {
				return err
			}
		}
	}
	return flush()
}

// firstVersion returns key's oldest version that is not a delete marker:
// the one coffer's Put wrote. Its entries come first in a listing of the
// key as a prefix (key sorts before every longer key), so the listing
// stops at the first other key.
func (s *Store) firstVersion(ctx context.Context, key string) (objectstore.Version, error) {
	var first objectstore.Version
	found := false
	err := s.listVersions(ctx, key, 100, func(v objectstore.Version) error {
		if v.Key != key {
			return errStopListing
		}
		if !found && !v.DeleteMarker {
			first, found = v, true
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopListing) {
		return objectstore.Version{}, err
	}
	if !found {
		return objectstore.Version{}, fmt.Errorf("s3 versions of %s: %w", key, objectstore.ErrNotFound)
	}
	return first, nil
}

// GetVersion returns one version whole, checked like Get.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) ([]byte, error) {
	if err := objectstore.CheckKey(key); err != nil {
		return nil, err
	}
	if versionID == "" {
		return nil, fmt.Errorf("s3 get %s: empty version ID: %w", key, objectstore.ErrNotFound)
	}
	return s.readRetrying(ctx, func() ([]byte, error) { return s.get(ctx, key, versionID) })
}

// GetVersionRange returns exactly length bytes from off of one version.
func (s *Store) GetVersionRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error) {
	if versionID == "" {
		return nil, fmt.Errorf("s3 get %s: empty version ID: %w", key, objectstore.ErrNotFound)
	}
	return s.readRange(ctx, key, versionID, off, length)
}

// Now returns the server's time from the Date header of a HeadBucket
// answer (one second resolution).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	out, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return time.Time{}, translateError("head bucket", s.cfg.Bucket, err)
	}
	if t, ok := awsmiddleware.GetServerTime(out.ResultMetadata); ok && !t.IsZero() {
		return t, nil
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("s3 head bucket %s: the answer has no Date header: %w",
		s.cfg.Bucket, objectstore.ErrUnavailable)
}
