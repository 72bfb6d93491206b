package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestIntruderVersionsIgnored: an intruder holding coffer's own S3
// credentials puts a new version over every object of the repository and
// then a delete marker on every one (neither needs a version ID, so
// object lock allows both). Every snapshot still lists and mounts, every
// file reads back byte-identical, and `coffer snapshots` and each mount
// name the tampering, and backups go on from the head. Before it, --as-of a time between two snapshots
// sets the later one aside, in the listing and for mount --snapshot.
func TestIntruderVersionsIgnored(t *testing.T) {
	be := newS3Backend(t)
	r := newRepo(t, be)
	rng := newRand(t.Name())
	m := r.mount(t, "--checkpoint-every", "0")
	files := map[string][]byte{"a/big": randBytes(rng, 5<<20), "a/small": randBytes(rng, 3000)}
	for name, data := range files {
		putFile(t, filepath.Join(m.dir, name), data)
	}
	want := map[string]map[string][]byte{}
	first := m.snapshot(t)
	want[first] = clone(files)
	time.Sleep(2 * time.Second) // so a time to the second falls between the two
	files["b/more"] = randBytes(rng, 2<<20)
	putFile(t, filepath.Join(m.dir, "b/more"), files["b/more"])
	second := m.snapshot(t)
	want[second] = clone(files)
	m.umount(t)
	before := r.snapshots(t)
	// As of between the two snapshots' uploads, only the first is seen.
	at, err := time.Parse(time.RFC3339, before[0].Time)
	must(t, err)
	between := at.Add(time.Second).Format(time.RFC3339)
	res := r.mustCoffer(t, shortTimeout, append(append([]string{"snapshots"}, r.repoArgs()...),
		"--json", "--as-of", between)...)
	var asOf []snapInfo
	if err := json.Unmarshal([]byte(res.stdout), &asOf); err != nil || len(asOf) != 1 || asOf[0].ID != first {
		t.Errorf("snapshots --as-of %s: %s, want only %s (err %v)", between, res.stdout, first, err)
	}
	snap := r.mount(t, "--snapshot", "latest", "--as-of", between)
	checkFiles(t, snap.dir, want[first])
	if _, err := os.Stat(filepath.Join(snap.dir, "b/more")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("latest as of %s has the second snapshot's file: %v", between, err)
	}
	snap.umount(t)

	// The intrusion. (Not followed by --as-of: versitygw reports a
	// superseded version's time as the time it was superseded.)
	n := intrude(t, be)
	if n < 8 {
		t.Fatalf("the intruder met only %d objects", n)
	}

	res = r.coffer(t, longTimeout, append(append([]string{"snapshots"}, r.repoArgs()...), "--json")...)
	if res.err != nil {
		t.Fatalf("coffer snapshots after the intrusion: %v", res)
	}
	var after []snapInfo
	if err := json.Unmarshal([]byte(res.stdout), &after); err != nil || len(after) != len(before) {
		t.Fatalf("coffer snapshots listed %s, want the %d snapshots (err %v)", res.stdout, len(before), err)
	}
	for _, kind := range []string{"later version", "delete marker", "config", "snapshots/", "index/", "keys/"} {
		if !strings.Contains(res.stderr, kind) {
			t.Errorf("coffer snapshots does not warn of %q:\n%s", kind, res.stderr)
		}
	}
	for id, files := range want {
		snap := r.mount(t, "--snapshot", id)
		checkFiles(t, snap.dir, files)
		snap.umount(t)
		if !strings.Contains(snap.log(), "tampering") {
			t.Errorf("the mount of %s logs no tampering:\n%s", id, snap.log())
		}
	}
	// Backups go on: the head starts from the latest snapshot, and a new
	// snapshot of it reads back.
	head := r.mount(t, "--checkpoint-every", "0")
	checkFiles(t, head.dir, files)
	files["c/after"] = randBytes(rng, 300<<10)
	putFile(t, filepath.Join(head.dir, "c/after"), files["c/after"])
	third := head.snapshot(t)
	head.umount(t)
	snap = r.mount(t, "--snapshot", third)
	checkFiles(t, snap.dir, files)
	snap.umount(t)
}

func clone(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// intrude puts a new version over every object under the repository's
// prefix and then a delete marker on each, with the credentials coffer
// uses, through a plain S3 client; it returns how many objects it met.
func intrude(t *testing.T, be *backend) int {
	t.Helper()
	ctx := context.Background()
	bucket, prefix := bucketOf(t, be)
	prefix += "/"
	env := envOf(be)
	c := awss3.New(awss3.Options{
		Region:       env["AWS_REGION"],
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL_S3"]),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
	})
	var keys []string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		must(t, err)
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	for _, key := range keys {
		body := fmt.Sprintf("the intruder's %s", key)
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("put over %s: %v", key, err)
		}
		if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
			t.Fatalf("delete-mark %s: %v", key, err)
		}
	}
	return len(keys)
}
