package main

import (
	"testing"
	"time"
)

// TestAsOfFlag: --as-of takes RFC 3339, the time `coffer snapshots`
// prints, a snapshot's directory name and a date (UTC unless zoned), and
// refuses anything else.
func TestAsOfFlag(t *testing.T) {
	want := time.Date(2026, 3, 1, 12, 30, 5, 0, time.UTC)
	for in, exp := range map[string]time.Time{
		"2026-03-01T12:30:05Z":      want,
		"2026-03-01T14:30:05+02:00": want,
		"2026-03-01T12-30-05Z":      want,
		"2026-03-01 12:30:05":       want,
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		var f asOfFlag
		if err := f.Set(in); err != nil || !f.t.Equal(exp) {
			t.Errorf("--as-of %s: %v, %v; want %v", in, f.t, err, exp)
		}
	}
	for _, in := range []string{"", "yesterday", "2026-13-01", "12:30"} {
		var f asOfFlag
		if err := f.Set(in); err == nil {
			t.Errorf("--as-of %q accepted as %v", in, f.t)
		}
	}
}
