package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// Service flags that cannot be honoured are refused before anything is
// opened, with exit 2 and a hint.
func TestServiceFlagRefusals(t *testing.T) {
	bin := binary(t)
	mp := t.TempDir()
	env := []string{"COFFER_REPOSITORY=" + t.TempDir()}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mount", "--log-format", "xml", mp}, "want text or json"},
		{[]string{"mount", "--metrics-listen", "0.0.0.0:9567", mp}, "--metrics-allow-remote"},
		{[]string{"mount", "--metrics-listen", ":9567", mp}, "loopback"},
		{[]string{"mount", "--metrics-listen", "9567", mp}, "HOST:PORT"},
		{[]string{"mount", "--metrics-allow-remote", mp}, "needs --metrics-listen"},
	} {
		res := run(t, bin, env, c.args...)
		if res.code != exitUsage || !strings.HasPrefix(res.stderr, "coffer: ") || !strings.Contains(res.stderr, c.want) {
			t.Errorf("coffer %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), res.code, res.stderr, c.want)
		}
	}
}

// With --log-format json, even the error a mount fails with is a JSON
// log record, and the exit status is the error's.
func TestJSONLogFailure(t *testing.T) {
	bin := binary(t)
	mp := t.TempDir()
	writeFile(t, filepath.Join(mp, "file"), "x")
	res := run(t, bin, []string{"COFFER_REPOSITORY=" + t.TempDir()}, "mount", "--log-format", "json", mp)
	var rec struct{ Level, Msg string }
	if err := json.Unmarshal([]byte(res.stderr), &rec); err != nil || strings.Count(res.stderr, "\n") != 1 {
		t.Fatalf("stderr %q is not one JSON line: %v", res.stderr, err)
	}
	if res.code != exitUsage || rec.Level != "ERROR" || !strings.Contains(rec.Msg, "not empty") {
		t.Errorf("exit %d, record %+v; want 2 and an ERROR naming the non-empty mountpoint", res.code, rec)
	}
}
