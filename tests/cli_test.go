package tests

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noAWSCredentials is an environment in which the AWS chain finds nothing:
// no keys, no profile, no shared files, no container or instance metadata
// (so nothing leaves the loopback interface).
func noAWSCredentials(home string) []string {
	return []string{
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_DEFAULT_PROFILE=", "AWS_CA_BUNDLE=",
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"),
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_EC2_METADATA_DISABLED=true",
	}
}

// exitCase is one run of the binary and what it must end with.
type exitCase struct {
	name string
	env  []string
	args []string
	code int
	hint string // in stdout for code 0, in the one stderr line otherwise
}

// check runs c and checks the exit code, and that an error is one line on
// stderr starting "coffer: " with the hint.
func (c exitCase) check(t *testing.T) {
	t.Helper()
	res := run(t, shortTimeout, c.env, cofferBin, c.args...)
	if got := res.exitCode(); got != c.code {
		t.Fatalf("coffer %s: exit %d, want %d\n%v", strings.Join(c.args, " "), got, c.code, res)
	}
	t.Logf("exit %d: %s", c.code, strings.TrimSpace(res.stdout+res.stderr))
	if c.code == 0 {
		if res.stderr != "" || !strings.Contains(res.stdout, c.hint) {
			t.Fatalf("want %q on stdout and nothing on stderr\n%v", c.hint, res)
		}
		return
	}
	line := strings.TrimSuffix(res.stderr, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "coffer: ") {
		t.Fatalf("stderr is not one line starting \"coffer: \":\n%s", res.stderr)
	}
	if !strings.Contains(line, c.hint) {
		t.Fatalf("stderr lacks the hint %q:\n%s", c.hint, line)
	}
}

// TestExitCodes runs the binary once per exit code of the README's table
// (and `coffer --help`), with a case that produces it, on each backend
// where a repository is involved, and checks that every error is one line
// on stderr starting "coffer:", with its hint.
func TestExitCodes(t *testing.T) {
	home := t.TempDir()
	key := filepath.Join(home, "coffer.key")
	mustRun(t, shortTimeout, nil, cofferBin, "key", "generate", key)

	// A TLS server whose certificate no system root signed: the client
	// must refuse it before any S3 request is made.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	keyEnv := []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b", "AWS_CA_BUNDLE=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1"}

	seen := map[int]bool{}
	for _, c := range []exitCase{
		{"version flag", nil, []string{"--version"}, 0, "coffer "},
		{"version command", nil, []string{"version"}, 0, "repository format"},
		{"key file exists", nil, []string{"key", "generate", key}, 1, "exists"},
		{"unknown command", nil, []string{"bogus"}, 2, "unknown command"},
		{"missing argument", nil, []string{"key", "generate"}, 2, "accepts 1 arg"},
		{"unknown flag", nil, []string{"snapshots", "--bogus"}, 2, "unknown flag"},
		{"TLS not verified", keyEnv, []string{"snapshots", "--repo", "s3://bucket/p",
			"--endpoint", tlsSrv.URL, "--key-file", key}, 5, "--ca-bundle"},
		{"no AWS credentials", noAWSCredentials(home), []string{"snapshots", "--repo", "s3://bucket/p",
			"--endpoint", tlsSrv.URL, "--key-file", key}, 5, "AWS_ACCESS_KEY_ID"},
	} {
		t.Run(c.name, c.check)
		seen[c.code] = true
	}
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		elsewhere := t.TempDir() // an empty directory
		if strings.HasPrefix(be.repoURL, "s3://") {
			elsewhere = be.repoURL + "-none" // an empty prefix of the same bucket
		}
		withRepo := func(repoURL, key string, args ...string) []string {
			return append(append(args, "--repo", repoURL, "--key-file", key), be.flags...)
		}
		for _, c := range []exitCase{
			{"extra argument", r.env(), withRepo(be.repoURL, r.keyFile, "snapshots", "extra"), 2, "unknown command"},
			{"wrong key file", r.env(), withRepo(be.repoURL, key, "snapshots"), 3, "--key-file"},
			{"not a repository", r.env(), withRepo(elsewhere, r.keyFile, "snapshots"), 4, "coffer init"},
			{"init over a repository", r.env(), withRepo(be.repoURL, r.keyFile, "init"), 6, "refusing to init"},
		} {
			t.Run(c.name, c.check)
			seen[c.code] = true
		}
	})
	for code := 0; code <= 6; code++ {
		if !seen[code] && !t.Failed() {
			t.Errorf("no case produced exit code %d", code)
		}
	}

	// `coffer --help` documents the same table.
	help := mustRun(t, shortTimeout, nil, cofferBin, "--help").stdout
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for code := 0; code <= 6; code++ {
		if !strings.Contains(help, "\n  "+string(rune('0'+code))+"  ") {
			t.Errorf("coffer --help does not list exit code %d", code)
		}
		if !strings.Contains(string(readme), "\n| "+string(rune('0'+code))+" | ") {
			t.Errorf("README's exit-code table does not list %d", code)
		}
	}
}
