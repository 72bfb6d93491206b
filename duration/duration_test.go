package duration

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"90s", 90 * time.Second},
		{"200ms", 200 * time.Millisecond},
		{"1s500ms", 1500 * time.Millisecond},
		{"5min", 5 * time.Minute},
		{"2h", 2 * time.Hour},
		{"30d", 30 * day},
		{"1d12h", 36 * time.Hour},
		{"2w", 14 * day},
		{"1y", 365 * day},
		{"1h30min15s", time.Hour + 30*time.Minute + 15*time.Second},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ in, says string }{
		{"", "empty"},
		{"30", "needs a unit"},
		{"2m", "ambiguous"},
		{"1h30m", "ambiguous"},
		{"3mo", "unknown unit"},
		{"d", "expected a number"},
		{"-1d", "expected a number"},
		{"1.5d", "unknown unit"},
		{"1 d", "unknown unit"},
		{"99999999999y", "too long"},
	} {
		_, err := Parse(c.in)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%q) = %v; want ErrSyntax saying %q", c.in, err, c.says)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 90 * time.Second, 36 * time.Hour, 30 * 24 * time.Hour, 400*24*time.Hour + 61*time.Second, 1500 * time.Millisecond} {
		s := Format(d)
		back, err := Parse(s)
		if err != nil || back != d {
			t.Errorf("Format(%v) = %q, parses to %v, %v", d, s, back, err)
		}
	}
	if got := Format(36 * time.Hour); got != "1d12h" {
		t.Errorf("Format(36h) = %q", got)
	}
}

func TestValue(t *testing.T) {
	var d time.Duration
	v := Value{&d}
	if err := v.Set("2h"); err != nil || d != 2*time.Hour || v.String() != "2h" {
		t.Fatalf("Set(2h): %v, %v, %q", err, d, v.String())
	}
	if err := v.Set("2m"); err == nil || d != 2*time.Hour {
		t.Fatalf("Set(2m) accepted or changed the value: %v, %v", err, d)
	}
}
