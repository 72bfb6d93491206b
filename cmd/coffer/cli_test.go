package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"coffer/objectstore/s3"
	"coffer/repo"
)

// These tests run the real binary, as a user would, for the commands that
// need no mount: init, key management, error reporting and exit codes.

func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("COFFER_BIN"); b != "" {
		return b
	}
	b := filepath.Join(t.TempDir(), "coffer")
	out, err := exec.Command("go", "build", "-o", b, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return b
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshotDir hashes every file under dir by relative path.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, p)
		m[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInitAndKeys(t *testing.T) {
	bin := binary(t)
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "r")
	pw, pw2 := filepath.Join(tmp, "pw"), filepath.Join(tmp, "pw2")
	writeFile(t, pw, "correct horse battery staple\n")
	writeFile(t, pw2, "a new passphrase\n")

	r := run(t, bin, nil, "init", "--repo", repo, "--password-file", pw)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "created repository ") {
		t.Fatalf("init: %+v", r)
	}
	before := snapshotDir(t, repo)
	for path := range before {
		data, _ := os.ReadFile(filepath.Join(repo, path))
		if bytes.Contains(data, []byte("correct horse")) {
			t.Fatalf("passphrase found in %s", path)
		}
	}

	r = run(t, bin, nil, "init", "--repo", repo, "--password-file", pw)
	if r.code != exitExists || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("second init: want exit %d and one line, got %+v", exitExists, r)
	}
	if after := snapshotDir(t, repo); !equalMaps(before, after) {
		t.Fatal("second init changed the repository")
	}

	r = run(t, bin, nil, "key", "list", "--repo", repo, "--password-file", pw2)
	if r.code != exitWrongKey || !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("wrong passphrase: %+v", r)
	}

	r = run(t, bin, nil, "key", "passwd", "--repo", repo, "--password-file", pw, "--new-password-file", pw2)
	if r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	if r := run(t, bin, nil, "key", "list", "--repo", repo, "--password-file", pw); r.code != exitWrongKey {
		t.Fatalf("old passphrase after passwd: %+v", r)
	}
	if r := run(t, bin, []string{"COFFER_PASSWORD_FILE=" + pw2}, "key", "list", "--repo", repo); r.code != 0 {
		t.Fatalf("new passphrase after passwd: %+v", r)
	}
	// passwd adds a slot and a revocation; it removes nothing (the old
	// slot is locked, and prune retires it), and changes no other object.
	after := snapshotDir(t, repo)
	for path, sum := range after {
		if strings.HasPrefix(path, "audit/") { // the key changes' audit records
			continue
		}
		if strings.HasPrefix(path, "keys/") || strings.HasPrefix(path, "revocations/") {
			if _, ok := before[path]; !ok {
				continue
			}
		}
		if before[path] != sum {
			t.Errorf("passwd changed or added %s", path)
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			t.Errorf("passwd removed %s", path)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestKeyFileAndErrors(t *testing.T) {
	bin := binary(t)
	tmp := t.TempDir()
	key := filepath.Join(tmp, "key")
	if r := run(t, bin, nil, "key", "generate", key); r.code != 0 {
		t.Fatalf("generate: %+v", r)
	}
	if r := run(t, bin, nil, "key", "generate", key); r.code == 0 {
		t.Fatal("generate overwrote a key file")
	}
	repo := filepath.Join(tmp, "r")
	if r := run(t, bin, nil, "init", "--repo", "file://"+repo, "--key-file", key); r.code != 0 {
		t.Fatalf("init with key file: %+v", r)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"not a repository", nil, []string{"snapshots", "--repo", tmp, "--key-file", key}, exitNoRepo, "no coffer repository"},
		{"missing directory", nil, []string{"snapshots", "--repo", filepath.Join(tmp, "nope"), "--key-file", key}, exitNoRepo, "does not exist"},
		{"no repo given", nil, []string{"snapshots", "--key-file", key}, exitUsage, "--repo"},
		{"bad flag", nil, []string{"snapshots", "--bogus"}, exitUsage, "unknown flag"},
		{"no passphrase", nil, []string{"snapshots", "--repo", repo}, exitUsage, "no passphrase"},
		{"http refused", []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"},
			[]string{"snapshots", "--repo", "s3://bucket/p", "--endpoint", "http://127.0.0.1:9", "--key-file", key}, exitUsage, "http"},
		{"unreachable", []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b", "AWS_EC2_METADATA_DISABLED=true"},
			[]string{"snapshots", "--repo", "s3://bucket/p", "--endpoint", "https://127.0.0.1:9", "--key-file", key}, exitUnreachable, "unavailable"},
		{"not mounted", nil, []string{"snapshot", tmp}, exitNoRepo, "no coffer daemon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := run(t, bin, c.env, c.args...)
			if r.code != c.code || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(c.msg)) {
				t.Fatalf("want exit %d and %q, got %d: %s", c.code, c.msg, r.code, r.stderr)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Fatalf("error is %d lines, want one: %s", n+1, r.stderr)
			}
			if d := time.Since(start); d > 45*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, bin, nil, "snapshots", "--repo", repo, "--key-file", key); r.code != exitWrongKey || !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("world-readable key file: %+v", r)
	}
}

// TestKeyRemoveRefusals: `key remove` refuses the slot in use and the last
// slot unless --force, with exit 2 and one line saying what to do, and
// changes nothing then.
func TestKeyRemoveRefusals(t *testing.T) {
	bin := binary(t)
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "r")
	k1, k2 := filepath.Join(tmp, "k1"), filepath.Join(tmp, "k2")
	for _, k := range []string{k1, k2} {
		if r := run(t, bin, nil, "key", "generate", k); r.code != 0 {
			t.Fatalf("generate: %+v", r)
		}
	}
	if r := run(t, bin, nil, "init", "--repo", repo, "--key-file", k1); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	// slotOf lists the slots as key list shows them, opening with key.
	slotOf := func(key string) (inUse string, all []string, state map[string]string) {
		t.Helper()
		r := run(t, bin, nil, "key", "list", "--repo", repo, "--key-file", key)
		if r.code != 0 {
			t.Fatalf("key list: %+v", r)
		}
		state = map[string]string{}
		for _, line := range strings.Split(r.stdout, "\n")[1:] {
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "*":
				inUse = f[1]
				f = f[1:]
			case len(f) == 3:
			default:
				continue
			}
			all = append(all, f[0])
			state[f[0]] = f[2]
		}
		return inUse, all, state
	}
	usable := func(state map[string]string) (n int) {
		for _, s := range state {
			if s == "usable" {
				n++
			}
		}
		return n
	}
	refused := func(what string, r result, hint string) {
		t.Helper()
		line := strings.TrimSuffix(r.stderr, "\n")
		if r.code != exitUsage || strings.Contains(line, "\n") || !strings.Contains(line, hint) {
			t.Fatalf("%s: want exit %d and one line with %q, got %+v", what, exitUsage, hint, r)
		}
	}

	first, _, _ := slotOf(k1)
	r := run(t, bin, nil, "key", "remove", "--repo", repo, "--key-file", k1, first)
	refused("remove the last slot", r, "--force")
	if r := run(t, bin, nil, "key", "add", "--repo", repo, "--key-file", k1, "--new-key-file", k2); r.code != 0 {
		t.Fatalf("key add: %+v", r)
	}
	second, all, _ := slotOf(k2)
	if len(all) != 2 || second == first {
		t.Fatalf("after key add: slots %q, in use with k2 %q", all, second)
	}
	r = run(t, bin, nil, "key", "remove", "--repo", repo, "--key-file", k1, first)
	refused("remove the slot in use", r, "--force")
	if _, _, now := slotOf(k1); usable(now) != 2 {
		t.Fatalf("a refused remove changed the slots: %q", now)
	}

	// Another slot may go; it is revoked, not deleted, and no longer opens.
	if r := run(t, bin, nil, "key", "remove", "--repo", repo, "--key-file", k2, first); r.code != 0 ||
		!strings.Contains(r.stdout, "revoked key slot "+first) {
		t.Fatalf("remove another slot: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(repo, "keys", first+"@obj")); err != nil {
		t.Fatalf("the revoked slot's object is gone: %v", err)
	}
	r = run(t, bin, nil, "key", "list", "--repo", repo, "--key-file", k1)
	if r.code != exitWrongKey || !strings.Contains(r.stderr, "revoked") || !strings.Contains(r.stderr, "--ignore-revocations") {
		t.Fatalf("the revoked slot still opens the repository: %+v", r)
	}
	// Its owner may still open the repository, asking to ignore revocations.
	r = run(t, bin, nil, "key", "list", "--repo", repo, "--key-file", k1, "--ignore-revocations")
	if r.code != 0 || !regexp.MustCompile(`(?m)^\*\s+`+first+`\s+keyfile\s+revoked$`).MatchString(r.stdout) {
		t.Fatalf("key list --ignore-revocations with the revoked slot: %+v", r)
	}

	// The one in use may go with --force; a forced revocation of the last
	// usable slot is written but not honoured.
	if r := run(t, bin, nil, "key", "add", "--repo", repo, "--key-file", k2, "--new-key-file", k1); r.code != 0 {
		t.Fatalf("key add: %+v", r)
	}
	if r := run(t, bin, nil, "key", "remove", "--repo", repo, "--key-file", k2, "--force", second); r.code != 0 {
		t.Fatalf("remove the slot in use with --force: %+v", r)
	}
	if r := run(t, bin, nil, "key", "list", "--repo", repo, "--key-file", k2); r.code != exitWrongKey {
		t.Fatalf("the removed slot still opens the repository: %+v", r)
	}
	third, _, now := slotOf(k1)
	if want := map[string]string{first: "revoked", second: "revoked", third: "usable"}; !maps.Equal(now, want) {
		t.Fatalf("slots after the forced remove: %q, want %q", now, want)
	}
	r = run(t, bin, nil, "key", "remove", "--repo", repo, "--key-file", k1, "--force", third)
	if r.code != 0 || !strings.Contains(r.stdout, "not honoured") {
		t.Fatalf("forced remove of the last usable slot: %+v", r)
	}
	if _, _, now := slotOf(k1); now[third] != "revocation-not-honoured" {
		t.Fatalf("key list after a revocation not honoured: %q", now)
	}
}

// TestExitCodeMapping checks the errors that have no cheap real-binary
// case of their own map to the README's codes, with a one-line hint.
func TestExitCodeMapping(t *testing.T) {
	certErr := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	cases := []struct {
		name string
		err  error
		code int
		hint string
	}{
		{"TLS", fmt.Errorf("s3 get config: %w", certErr), exitUnreachable, "--ca-bundle"},
		{"no credentials", fmt.Errorf("get identity: %w", &s3.CredentialsError{Err: errors.New("no EC2 IMDS role found")}),
			exitUnreachable, "AWS_PROFILE"},
		{"no object lock", fmt.Errorf("init: %w", repo.ErrNoObjectLock), exitUsage, "--retention-days 0"},
		{"slot in use", fmt.Errorf("%w, 0123", repo.ErrSlotInUse), exitUsage, "--force"},
		{"last slot", fmt.Errorf("%w, 0123", repo.ErrLastSlot), exitUsage, "--force"},
		{"revoked slot", fmt.Errorf("%w (slot 0123)", repo.ErrRevoked), exitWrongKey, "--ignore-revocations"},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.code)
		}
		if d := describe(c.err); !strings.Contains(d, c.hint) || strings.Contains(d, "\n") {
			t.Errorf("%s: %q lacks %q or is not one line", c.name, d, c.hint)
		}
	}
}
