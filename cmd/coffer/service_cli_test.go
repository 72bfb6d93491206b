package main

import (
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
