package tests

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coffer/objectstore/s3/s3test"
)

// TestRetentionKeptAheadOfSnapshots: on versitygw with a retention of one
// minute, a pack that a second snapshot (R/2 later) reuses has the lock of
// its first version (the one coffer wrote, though an intruder put another
// over it) extended to about 1.5 R from the second snapshot. init refuses
// the ambiguous "2m".
func TestRetentionKeptAheadOfSnapshots(t *testing.T) {
	const period = 60 * time.Second
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	be := s3BackendOn(srv, bucket)
	r := newKeyedRepo(t, be)
	res := r.coffer(t, longTimeout, append([]string{"init", "--retention", "2m"}, r.repoArgs()...)...)
	if res.exitCode() != 2 || !strings.Contains(res.stderr, "min") {
		t.Fatalf("init --retention 2m: want a usage error naming min, got %v", res)
	}
	r.mustCoffer(t, longTimeout, append([]string{"init", "--retention", "60s", "--deletion-delay", "30s", "--unsafe-short-delays"}, r.repoArgs()...)...)

	m := r.mount(t)
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	must(t, os.WriteFile(filepath.Join(m.dir, "big"), data, 0o644))
	m.snapshot(t)
	st := storeOf(t, be)
	packs := listKeys(t, st, "data/")
	if len(packs) == 0 {
		t.Fatal("no pack after the first snapshot")
	}

	owner := newIntruder(srv.Endpoint, srv.Region, bucket, "coffer", srv.AccessKey, srv.SecretKey)
	ctx := context.Background()
	retainUntil := func(key, version string) time.Time {
		t.Helper()
		// HeadObject?versionId on versitygw v1.8.0 reports no lock for a
		// version that is no longer current; GetObjectRetention does.
		_, until, err := owner.retention(ctx, key, version)
		if err != nil || until.IsZero() {
			t.Fatalf("retention of %s version %s: %v", key, version, err)
		}
		return until
	}
	first := map[string]string{}
	before := map[string]time.Time{}
	for _, k := range packs {
		info, err := st.Head(ctx, k)
		must(t, err)
		first[k] = info.VersionID
		before[k] = retainUntil(k, info.VersionID)
	}
	intruder := srv.Intruder(t, bucket, "coffer/")
	intruder.Overwrite(packs[0], []byte("the intruder's version"))

	// The first snapshot locked them until 1.5 R from then; the rule
	// extends them again once less than R is left.
	time.Sleep(period/2 + 3*time.Second)
	must(t, os.WriteFile(filepath.Join(m.dir, "small"), []byte("a new file\n"), 0o644))
	start := time.Now()
	m.snapshot(t) // reuses every pack of "big"
	for _, k := range packs {
		got := retainUntil(k, first[k])
		if got.Before(start.Add(period)) || !got.After(before[k]) {
			t.Errorf("%s: coffer's version is locked until %v (was %v); want at least R (%v) after the second snapshot at %v",
				k, got, before[k], period, start)
		}
		if got.After(time.Now().Add(period*3/2 + 5*time.Second)) {
			t.Errorf("%s: locked until %v, later than 1.5 R from now", k, got)
		}
	}
	m.umount(t)
	// Each extension is an audit record, after the commit it preceded.
	recs, _ := r.auditVerify(t)
	if kinds := auditKinds(recs); strings.Count(kinds, "commit,retention") < 2 {
		t.Errorf("audit records %s: want a retention record after each of the two commits", kinds)
	}
}
