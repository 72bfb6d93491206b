package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
)

// TestInitRetentionFlags: --retention takes coffer's durations, refuses
// the ambiguous "m" and a second retention flag, and GOVERNANCE warns.
func TestInitRetentionFlags(t *testing.T) {
	bin := binary(t)
	tmp := t.TempDir()
	key := filepath.Join(tmp, "key")
	if r := run(t, bin, nil, "key", "generate", key); r.code != 0 {
		t.Fatalf("key generate: %+v", r)
	}
	init := func(name string, flags ...string) result {
		return run(t, bin, nil, append([]string{"init", "--repo", filepath.Join(tmp, name), "--key-file", key}, flags...)...)
	}
	if r := init("m", "--retention", "2m"); r.code != exitUsage || !strings.Contains(r.stderr, `write "min" for minutes`) {
		t.Errorf("--retention 2m: want a usage error saying to write min, got %+v", r)
	}
	if r := init("both", "--retention", "30d", "--retention-days", "30"); r.code != exitUsage {
		t.Errorf("--retention with --retention-days: want a usage error, got %+v", r)
	}
	// A retention shorter than the deletion delay plus a day would let a
	// lock lapse before a request matures: refused without the unsafe
	// flag, and then still refused at or below the delay.
	if r := init("short", "--retention", "7d"); r.code != exitUsage || !strings.Contains(r.stderr, "deletion delay") {
		t.Errorf("--retention 7d with the 14-day delay: want a usage error naming the delay, got %+v", r)
	}
	if r := init("delay", "--deletion-delay", "1d"); r.code != exitUsage || !strings.Contains(r.stderr, "--unsafe-short-delays") {
		t.Errorf("--deletion-delay 1d: want a usage error naming --unsafe-short-delays, got %+v", r)
	}
	if r := init("under", "--retention", "60s", "--deletion-delay", "60s", "--unsafe-short-delays"); r.code != exitUsage {
		t.Errorf("retention equal to the delay: want a usage error, got %+v", r)
	}
	if r := init("s", "--retention", "90s", "--deletion-delay", "30s", "--unsafe-short-delays"); r.code != 0 || !strings.Contains(r.stderr, "tests only") {
		t.Errorf("--retention 90s: %+v", r)
	}
	if r := init("days", "--retention-days", "7", "--deletion-delay", "3d", "--unsafe-short-delays"); r.code != 0 {
		t.Errorf("--retention-days 7: %+v", r)
	}
	if r := init("gov", "--retention", "1d", "--retention-mode", "GOVERNANCE", "--deletion-delay", "1h", "--unsafe-short-delays"); r.code != 0 || !strings.Contains(r.stderr, "s3:BypassGovernanceRetention") {
		t.Errorf("GOVERNANCE: want a warning naming s3:BypassGovernanceRetention, got %+v", r)
	}
	// Each repository's config is locked as its flags asked.
	for _, c := range []struct {
		name string
		d    time.Duration
		mode objectstore.Mode
	}{
		{"s", 90 * time.Second, objectstore.Compliance},
		{"days", 7 * 24 * time.Hour, objectstore.Compliance},
		{"gov", 24 * time.Hour, objectstore.Governance},
	} {
		st, err := local.New(filepath.Join(tmp, c.name), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Head(context.Background(), "config")
		if err != nil {
			t.Fatalf("%s: head config: %v", c.name, err)
		}
		if left := time.Until(info.RetainUntil); left > c.d || left < c.d-time.Minute || info.Mode != c.mode {
			t.Errorf("%s: config locked %s until %v, want %s for %v", c.name, info.Mode, info.RetainUntil, c.mode, c.d)
		}
	}
}
