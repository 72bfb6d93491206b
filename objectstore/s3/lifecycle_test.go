package s3_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/objectstore/s3/s3test"
)

// TestProbeLifecycleVersitygw: versitygw has no lifecycle rules (501).
func TestProbeLifecycleVersitygw(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	st := newStore(t, srv.Config(srv.NewBucket(t, true), "lc/"))
	rules, supported, err := st.ProbeLifecycle(context.Background())
	if err != nil || supported || len(rules) != 0 {
		t.Fatalf("ProbeLifecycle on versitygw = %v, %v, %v; want unsupported", rules, supported, err)
	}
}

// lifecycleXML is a configuration as AWS answers it: rules for the
// repository's prefix in each filter form, and rules that cannot touch it.
const lifecycleXML = `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule><ID>all</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>
    <NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>
    <AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
  <Rule><ID>legacy</ID><Prefix>host1/packs/</Prefix><Status>Enabled</Status>
    <Expiration><Days>30</Days></Expiration></Rule>
  <Rule><ID>and</ID><Filter><And><Prefix>host</Prefix><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>
    <Expiration><Date>2027-01-01T00:00:00Z</Date></Expiration></Rule>
  <Rule><ID>disabled</ID><Filter><Prefix>host1/</Prefix></Filter><Status>Disabled</Status>
    <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>
  <Rule><ID>tagged</ID><Filter><Tag><Key>tmp</Key><Value>1</Value></Tag></Filter><Status>Enabled</Status>
    <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>
  <Rule><ID>other</ID><Filter><Prefix>host2/</Prefix></Filter><Status>Enabled</Status>
    <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>
</LifecycleConfiguration>`

// TestProbeLifecycleRules: only enabled, untagged rules whose prefix
// overlaps the repository's are reported, with their day counts.
func TestProbeLifecycleRules(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["lifecycle"]; !ok {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(lifecycleXML))
	}
	ts := httptest.NewServer(http.HandlerFunc(answer))
	defer ts.Close()
	st := newStore(t, s3.Config{Bucket: "b", Prefix: "host1/", Endpoint: ts.URL, Region: "us-east-1",
		InsecureHTTP: true, PathStyle: true, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	rules, supported, err := st.ProbeLifecycle(context.Background())
	if err != nil || !supported {
		t.Fatalf("ProbeLifecycle = %v, %v", supported, err)
	}
	want := []objectstore.LifecycleRule{
		{ID: "all", NoncurrentDays: 7, AbortIncompleteDays: 2},
		{ID: "legacy", Prefix: "host1/packs/", ExpirationDays: 30},
		{ID: "and", Prefix: "host", ExpirationDays: -1},
	}
	if !slices.Equal(rules, want) {
		t.Fatalf("rules = %+v\nwant    %+v", rules, want)
	}
}
