package policy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the current output")

// TestGolden freezes every role's policy in both forms: a change to a
// statement shows up as a diff to review, with its reason in docs/STORE.md.
func TestGolden(t *testing.T) {
	cases := []struct {
		file string
		o    Options
	}{
		{"server-aws.json", Options{Bucket: "backups", Prefix: "host1", Role: Server, For: AWS}},
		{"server-aws-bucket.json", Options{Bucket: "backups", Prefix: "/host1/", Role: Server, For: AWS,
			Principal: "arn:aws:iam::111122223333:user/host1"}},
		{"admin-aws.json", Options{Bucket: "backups", Prefix: "host1", Role: Admin, For: AWS}},
		{"restore-aws.json", Options{Bucket: "backups", Prefix: "host1", Role: Restore, For: AWS}},
		{"server-versitygw.json", Options{Bucket: "backups", Prefix: "host1", Role: Server, For: VersityGW,
			Principal: "HOST1KEY"}},
		{"server-versitygw-whole-bucket-http.json", Options{Bucket: "backups", Role: Server, For: VersityGW,
			Principal: "HOST1KEY", AllowHTTP: true}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			doc, err := Build(c.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := doc.JSON()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./policy -update once to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s changed; got:\n%s", c.file, got)
			}
		})
	}
}

// TestNeverGrants checks the promise itself on every role and form: no
// Allow names an action that deletes, bypasses governance or reconfigures
// the bucket (beyond the admin's delete of a version), and each of those is
// explicitly denied.
func TestNeverGrants(t *testing.T) {
	forbidden := append(append([]string{}, deleteActions...), configureBucket...)
	for _, role := range []Role{Server, Admin, Restore} {
		for _, target := range []Target{AWS, VersityGW} {
			doc, err := Build(Options{Bucket: "b", Role: role, For: target, Principal: "K"})
			if err != nil {
				t.Fatal(err)
			}
			allowed, denied := map[string]bool{}, map[string]bool{}
			for _, s := range doc.Statement {
				for _, a := range s.Action {
					if s.Effect == "Allow" {
						allowed[a] = true
					} else {
						denied[a] = true
					}
				}
				if s.Reason == "" {
					t.Errorf("%s/%s: statement %s has no reason", role, target, s.Sid)
				}
			}
			for _, a := range forbidden {
				if role == Admin && a == "s3:DeleteObjectVersion" {
					continue
				}
				if allowed[a] || !denied[a] {
					t.Errorf("%s/%s: %s allowed=%v denied=%v", role, target, a, allowed[a], denied[a])
				}
			}
			if role == Restore && (allowed["s3:PutObjectRetention"] || allowed["s3:DeleteObjectVersion"]) {
				t.Errorf("restore role may change objects")
			}
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, o := range []Options{
		{Role: Server, For: AWS},
		{Bucket: "b", Role: "root", For: AWS},
		{Bucket: "b", Role: Server, For: "gcs"},
		{Bucket: "b", Role: Server, For: VersityGW},
	} {
		if _, err := Build(o); !errors.Is(err, ErrOptions) {
			t.Errorf("Build(%+v) = %v, want ErrOptions", o, err)
		}
	}
}
