package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"coffer/objectstore"
)

// Options describes what the backend under test can do.
type Options struct {
	// Advance moves the backend's clock forward by d, so retention can be
	// seen to expire. Nil for backends on real time (S3): then the suite
	// checks that retention holds, not that it ends.
	Advance func(d time.Duration)
	// Retention says the backend enforces retention (for S3: the bucket
	// has object lock). Without it the retention tests are not run.
	Retention bool
	// Now tells the backend's current time; nil means time.Now. Retention
	// dates in the suite are set relative to it.
	Now func() time.Time
	// Intruder returns what acts, on the store newStore just returned, as
	// someone holding its credentials would outside coffer's rules: put
	// over a key, hide it behind a delete marker, delete one version. Nil
	// for a backend where nobody can (a local directory has one version
	// per key): the suite then checks versions as Put makes them only.
	Intruder func(t *testing.T, st objectstore.Store) Intruder
	// LegalHolds says the backend is an objectstore.LegalHolder whose
	// holds refuse deletion (for S3: the bucket has object lock).
	LegalHolds bool
	// DeleteProber says the backend is an objectstore.DeleteProber; the
	// suite's credentials may delete versions.
	DeleteProber bool
}

// Intruder writes versions and delete markers that coffer never does.
// objectstore/memory.Store is one; s3test.Intruder is one for S3.
type Intruder interface {
	// Overwrite stores data as a new version of key (a PUT without
	// If-None-Match) and returns its version ID.
	Overwrite(key string, data []byte) (versionID string)
	// Hide places a delete marker on key and returns its version ID.
	Hide(key string) (versionID string)
	// DeleteVersion removes one version or marker; ErrRetained while the
	// version's retention holds.
	DeleteVersion(ctx context.Context, key, versionID string) error
}

// Run runs the conformance suite. newStore must return a fresh, empty
// store each time it is called (for S3, a new bucket or a new prefix).
func Run(t *testing.T, newStore func(t *testing.T) objectstore.Store, opts Options) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := suite{newStore: newStore, opts: opts}
	t.Run("PutGet", s.testPutGet)
	t.Run("PutNeverOverwrites", s.testPutNeverOverwrites)
	t.Run("ConcurrentPutOneWins", s.testConcurrentPut)
	t.Run("GetRange", s.testGetRange)
	t.Run("Head", s.testHead)
	t.Run("NotFound", s.testNotFound)
	t.Run("InvalidKeys", s.testInvalidKeys)
	t.Run("List", s.testList)
	t.Run("ListManyKeys", s.testListMany)
	t.Run("ListStopsOnError", s.testListStops)
	t.Run("Delete", s.testDelete)
	t.Run("CancelledContext", s.testCancelled)
	t.Run("Now", s.testNow)
	t.Run("Versions", s.testVersions)
	t.Run("VersionsOfAPrefix", s.testVersionsPrefix)
	t.Run("DeleteVersion", s.testDeleteVersion)
	if opts.Intruder != nil {
		t.Run("LaterVersions", s.testLaterVersions)
		t.Run("DeleteMarkers", s.testDeleteMarkers)
		t.Run("DeleteVersionOfMarkers", s.testDeleteVersionMarkers)
	}
	if opts.LegalHolds {
		t.Run("LegalHold", s.testLegalHold)
	}
	if opts.DeleteProber {
		t.Run("DeleteProber", s.testDeleteProber)
	}
	if opts.Retention {
		t.Run("RetentionRefusesDelete", s.testRetentionRefusesDelete)
		t.Run("DeleteVersionRetained", s.testDeleteVersionRetained)
		t.Run("ExtendRetention", s.testExtendRetention)
		if opts.Intruder != nil {
			t.Run("RetentionPerVersion", s.testRetentionPerVersion)
		}
	}
}

// suite carries Run's arguments to the subtests.
type suite struct {
	newStore func(t *testing.T) objectstore.Store
	opts     Options
}

// ctx returns a context bounded so a hung backend fails the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPut stores data and returns the version ID Put reports, which
// must not be empty.
func mustPut(t *testing.T, st objectstore.Store, key string, data []byte, ret objectstore.Retention) string {
	t.Helper()
	id, err := st.Put(ctx(t), key, data, ret)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
	if id == "" {
		t.Fatalf("Put(%q) returned an empty version ID", key)
	}
	return id
}

func mustGet(t *testing.T, st objectstore.Store, key string, want []byte) {
	t.Helper()
	got, err := st.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes, differs from the %d put", key, len(got), len(want))
	}
}

func (s suite) testPutGet(t *testing.T) {
	st := s.newStore(t)
	cases := map[string][]byte{
		"empty":            {},
		"one":              []byte("x"),
		"dir/sub/obj.bin":  randomBytes(t, 4096),
		"big/1MiB":         randomBytes(t, 1<<20),
		"all-chars_.A-z09": []byte("every allowed character class"),
	}
	for key, data := range cases {
		mustPut(t, st, key, data, objectstore.Retention{})
	}
	for key, data := range cases {
		mustGet(t, st, key, data)
	}
}

func (s suite) testPutNeverOverwrites(t *testing.T) {
	st := s.newStore(t)
	first := []byte("the original bytes")
	mustPut(t, st, "k", first, objectstore.Retention{})
	for _, second := range [][]byte{[]byte("other"), first, {}} {
		_, err := st.Put(ctx(t), "k", second, objectstore.Retention{})
		if !errors.Is(err, objectstore.ErrExists) {
			t.Fatalf("second Put of %q = %v, want ErrExists", second, err)
		}
	}
	mustGet(t, st, "k", first)
	info, err := st.Head(ctx(t), "k")
	if err != nil || info.Size != int64(len(first)) {
		t.Fatalf("Head after refused Put = %+v, %v", info, err)
	}
}

func (s suite) testConcurrentPut(t *testing.T) {
	st := s.newStore(t)
	const writers = 8
	payloads := make([][]byte, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		payloads[i] = randomBytes(t, 64<<10)
		wg.Go(func() {
			<-start
			_, errs[i] = st.Put(ctx(t), "contended", payloads[i], objectstore.Retention{})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, objectstore.ErrExists):
			t.Fatalf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	mustGet(t, st, "contended", payloads[winner])
}

func (s suite) testGetRange(t *testing.T) {
	st := s.newStore(t)
	data := randomBytes(t, 1000)
	mustPut(t, st, "r", data, objectstore.Retention{})
	for _, r := range []struct{ off, n int64 }{
		{0, 10}, {500, 100}, {990, 10}, {0, 1000}, {999, 1},
	} {
		got, err := st.GetRange(ctx(t), "r", r.off, r.n)
		if err != nil {
			t.Fatalf("GetRange(%d, %d): %v", r.off, r.n, err)
		}
		if !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Fatalf("GetRange(%d, %d) returned the wrong %d bytes", r.off, r.n, len(got))
		}
	}
	for _, r := range []struct{ off, n int64 }{
		{995, 10}, {1000, 1}, {2000, 5}, {0, 1001}, {-1, 5},
	} {
		got, err := st.GetRange(ctx(t), "r", r.off, r.n)
		if !errors.Is(err, objectstore.ErrInvalidRange) {
			t.Fatalf("GetRange(%d, %d) = %d bytes, %v; want ErrInvalidRange", r.off, r.n, len(got), err)
		}
	}
}

func (s suite) testNotFound(t *testing.T) {
	st := s.newStore(t)
	id := mustPut(t, st, "present", []byte("p"), objectstore.Retention{})
	c := ctx(t)
	calls := map[string]error{}
	_, calls["GetVersion"] = st.GetVersion(c, "absent", id)
	_, calls["GetVersionRange"] = st.GetVersionRange(c, "absent", id, 0, 1)
	calls["ExtendRetentionVersion"] = st.ExtendRetentionVersion(c, "absent", id,
		objectstore.Retention{Mode: objectstore.Compliance, Until: s.opts.Now().Add(time.Hour)})
	_, calls["Get"] = st.Get(c, "absent")
	_, calls["GetRange"] = st.GetRange(c, "absent", 0, 1)
	_, calls["Head"] = st.Head(c, "absent")
	calls["Delete"] = st.Delete(c, "absent")
	calls["ExtendRetention"] = st.ExtendRetention(c, "absent",
		objectstore.Retention{Mode: objectstore.Compliance, Until: s.opts.Now().Add(time.Hour)})
	for name, err := range calls {
		if !errors.Is(err, objectstore.ErrNotFound) {
			t.Errorf("%s of a missing key = %v, want ErrNotFound", name, err)
		}
	}
}

func (s suite) testInvalidKeys(t *testing.T) {
	st := s.newStore(t)
	for _, key := range []string{"", "/abs", "../up", "a/../b", "a//b", "a/", "./a",
		"sp ace", "new\nline", "pct%", "uni\u00e9", string(make([]byte, objectstore.MaxKeyLen+1))} {
		_, err := st.Put(ctx(t), key, []byte("x"), objectstore.Retention{})
		if !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.Get(ctx(t), key); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func (s suite) testCancelled(t *testing.T) {
	st := s.newStore(t)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Put(c, "k", []byte("x"), objectstore.Retention{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := st.Head(ctx(t), "k"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("a Put with a cancelled context stored the object (Head = %v)", err)
	}
}

// keyN returns a key whose lexical order matches n's numeric order.
func keyN(prefix string, n int) string { return fmt.Sprintf("%s%05d", prefix, n) }
