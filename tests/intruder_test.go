package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"coffer/cipher"
	"coffer/objectstore"
	crepo "coffer/repo"
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

// forgeVictim does what an intruder holding the key file can: it opens
// the repository with coffer's own repo package, finds the block of
// forge/victim.bin and the tree of forge/ in the old snapshot, and writes
// a new pack and a new index that name those two block IDs with other
// bytes (a victim.bin of the same length saying something else, a forge/
// listing a ransom note beside it). It returns the keys of the objects it added.
func forgeVictim(ctx context.Context, t *testing.T, be *backend, keyFile string, old proofSnap) []string {
	t.Helper()
	st := storeOf(t, be)
	fileKey, err := cipher.ReadKeyFile(keyFile)
	must(t, err)
	secret := crepo.Secret{KeyFile: fileKey}
	real, err := crepo.Open(ctx, st, secret, crepo.Options{})
	if err != nil {
		t.Fatalf("the intruder opens the repository with the key: %v", err)
	}
	defer real.Close()
	snap, err := real.LoadSnapshot(ctx, old.id)
	must(t, err)
	dir, err := snap.TreeID()
	must(t, err)
	for _, name := range []string{"data", "forge"} {
		n := findNode(ctx, t, real, dir, name)
		dir, err = n.SubtreeID()
		must(t, err)
	}
	victim := findNode(ctx, t, real, dir, "victim.bin")
	if len(victim.Blocks) != 1 {
		t.Fatalf("forge/victim.bin has %d blocks, want 1", len(victim.Blocks))
	}
	block := victim.Blocks[0]

	// A repository opened without the index knows no block, so it seals
	// and packs whatever it is given under the IDs it is given.
	before := append(listKeys(t, st, "data/"), listKeys(t, st, "index/")...)
	blind, err := crepo.Open(ctx, withoutIndex{st}, secret, crepo.Options{})
	must(t, err)
	defer blind.Close()
	lie := bytes.Repeat([]byte("the intruder wrote this. "), int(block.Len)/25+1)[:block.Len]
	must(t, blind.SaveBlock(ctx, crepo.DataBlock, block.ID, lie))
	forged := crepo.Tree{Nodes: []crepo.Node{
		{Name: "RANSOM.txt", Type: crepo.TypeFile, Mode: 0o644, Size: uint64(block.Len), Blocks: victim.Blocks},
		*victim,
	}}
	raw, err := json.Marshal(&forged)
	must(t, err)
	must(t, blind.SaveBlock(ctx, crepo.TreeBlock, dir, raw))
	must(t, blind.Flush(ctx))
	added := newKeyList(before, append(listKeys(t, st, "data/"), listKeys(t, st, "index/")...))
	if len(added) != 2 {
		t.Fatalf("the forgery added %q, want one pack and one index", added)
	}
	return added
}

// findNode returns the entry called name in tree id.
func findNode(ctx context.Context, t *testing.T, r *crepo.Repository, id cipher.ID, name string) *crepo.Node {
	t.Helper()
	tree, err := r.LoadTree(ctx, id)
	must(t, err)
	for i := range tree.Nodes {
		if tree.Nodes[i].Name == name {
			return &tree.Nodes[i]
		}
	}
	t.Fatalf("no %s in tree %s", name, crepo.FormatID(id))
	return nil
}

// withoutIndex is a store whose listings leave out index/.
type withoutIndex struct{ objectstore.Store }

func (w withoutIndex) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	return w.Store.List(ctx, prefix, func(i objectstore.Info) error {
		if strings.HasPrefix(i.Key, "index/") {
			return nil
		}
		return fn(i)
	})
}

func (w withoutIndex) ListVersions(ctx context.Context, prefix string, fn func(objectstore.Version) error) error {
	return w.Store.ListVersions(ctx, prefix, func(v objectstore.Version) error {
		if strings.HasPrefix(v.Key, "index/") {
			return nil
		}
		return fn(v)
	})
}

// forgeSnapshot does what an intruder holding the key can: it writes a
// new, valid snapshot (the old tree, dated now, naming the newest as its
// parent), so that the next head would roll back to it. It returns its ID.
func forgeSnapshot(ctx context.Context, t *testing.T, be *backend, keyFile string, old, newest proofSnap) string {
	t.Helper()
	fileKey, err := cipher.ReadKeyFile(keyFile)
	must(t, err)
	real, err := crepo.Open(ctx, storeOf(t, be), crepo.Secret{KeyFile: fileKey}, crepo.Options{})
	if err != nil {
		t.Fatalf("the intruder opens the repository with the key: %v", err)
	}
	defer real.Close()
	s, err := real.LoadSnapshot(ctx, old.id)
	must(t, err)
	fake := *s
	fake.ID, fake.Time, fake.Parent = "", time.Now().UTC(), newest.id
	must(t, real.SaveSnapshot(ctx, &fake))
	return fake.ID
}

// forgeRevocation does what an intruder holding the key can to lock the
// owner out: it revokes, forcing it, the one key slot still usable, and
// returns the revocation's key. coffer must not honour it.
func forgeRevocation(ctx context.Context, t *testing.T, be *backend, keyFile string) string {
	t.Helper()
	fileKey, err := cipher.ReadKeyFile(keyFile)
	must(t, err)
	st := storeOf(t, be)
	real, err := crepo.Open(ctx, st, crepo.Secret{KeyFile: fileKey}, crepo.Options{})
	if err != nil {
		t.Fatalf("the intruder opens the repository with the key: %v", err)
	}
	defer real.Close()
	before := listKeys(t, st, "revocations/")
	honoured, err := real.RevokeSlot(ctx, real.SlotID(), true)
	must(t, err)
	if honoured {
		t.Errorf("a revocation of the last usable key slot %s would be honoured", real.SlotID())
	}
	added := newKeyList(before, listKeys(t, st, "revocations/"))
	if len(added) != 1 {
		t.Fatalf("the forced revocation added %q, want one revocation", added)
	}
	return added[0]
}
