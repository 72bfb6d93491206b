package localstate

import (
	"errors"
	"maps"
	"os"
	"testing"
	"time"
)

func TestRetainRoundTrip(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := d.Retain()
	if m, err := f.Load("ab"); m != nil || err != nil {
		t.Fatalf("Load before Save = %v, %v; want nothing", m, err)
	}
	until := time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC)
	want := map[string]RetainEntry{
		"config":           {Version: "v1", Until: until},
		"data/0a/0a1b2c3d": {Version: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", Until: until.Add(time.Hour)},
		"key with a space": {Version: "null", Until: until},
	}
	in := maps.Clone(want)
	in["no-version"] = RetainEntry{Until: until}
	in["bad-version"] = RetainEntry{Version: "a b", Until: until}
	if err := f.Save("ab", in); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load("ab")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, want, func(a, b RetainEntry) bool { return a.Version == b.Version && a.Until.Equal(b.Until) }) {
		t.Fatalf("Load = %v, want %v", got, want)
	}
	if m, err := f.Load("cd"); m != nil || !errors.Is(err, ErrBadRetain) {
		t.Fatalf("Load for another repository = %v, %v; want nothing and ErrBadRetain", m, err)
	}
	var none *Dir
	if err := none.Retain().Save("ab", want); err != nil {
		t.Fatal(err)
	}
	if m, err := none.Retain().Load("ab"); m != nil || err != nil {
		t.Fatalf("--cache-dir off: Load = %v, %v", m, err)
	}
}

func TestRetainCorruptIgnored(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := d.Retain()
	good := "coffer-retain 1\nrepository ab\n2026-03-01T12:00:00Z v1 config\n"
	for name, data := range map[string]string{
		"empty":       "",
		"other magic": "coffer-retain 2\nrepository ab\n",
		"bad date":    "coffer-retain 1\nrepository ab\nyesterday v1 config\n",
		"no key":      "coffer-retain 1\nrepository ab\n2026-03-01T12:00:00Z v1\n",
		"truncated":   good[:len(good)-3],
	} {
		if err := os.WriteFile(f.path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if m, err := f.Load("ab"); m != nil || !errors.Is(err, ErrBadRetain) {
			t.Errorf("%s: Load = %v, %v; want nothing and ErrBadRetain", name, m, err)
		}
	}
	if err := os.WriteFile(f.path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := f.Load("ab"); len(m) != 1 || err != nil {
		t.Fatalf("a good file: %v, %v", m, err)
	}
}
