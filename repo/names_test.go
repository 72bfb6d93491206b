package repo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
)

func snapAt(id, at string, parent string) *Snapshot {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		panic(err)
	}
	return &Snapshot{ID: id, Time: t, Parent: parent}
}

// TestSnapshotNamesRoundTrip: every name a listing shows resolves to its
// own snapshot, two snapshots of one second get distinct names (the
// first keeps its name), and a time they share is ambiguous with the
// names to use instead.
func TestSnapshotNamesRoundTrip(t *testing.T) {
	all := []*Snapshot{
		snapAt("aaaa1111"+strings.Repeat("0", 24), "2026-11-28T22:00:00Z", ""),
		snapAt("bbbb2222"+strings.Repeat("1", 24), "2026-11-28T22:05:01.1Z", ""),
		snapAt("cccc3333"+strings.Repeat("2", 24), "2026-11-28T22:05:01.7Z", ""),
	}
	names := NameSnapshots(all)
	want := []string{"2026-11-28T22-00-00Z", "2026-11-28T22-05-01Z", "2026-11-28T22-05-01Z_cccc3333"}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("name %d = %q, want %q", i, names[i], want[i])
		}
	}
	for i, s := range all {
		// The colon-style time that `coffer snapshots` prints, with the
		// name's suffix if it has one.
		colons := ListTime(s) + strings.TrimPrefix(names[i], s.Time.UTC().Format(SnapshotTimeFormat))
		refs := []string{names[i], s.ID, s.ID[:6]}
		if colons != ListTime(s) || i == 0 {
			refs = append(refs, colons) // a shared bare time is ambiguous: below
		}
		for _, ref := range refs {
			got, err := findIn(all, names, ref)
			if err != nil || got != s {
				t.Errorf("find %q: got %v, %v; want snapshot %d", ref, got, err, i)
			}
		}
	}
	if got, err := findIn(all, names, "latest"); err != nil || got != all[2] {
		t.Errorf("latest: %v %v", got, err)
	}
	if got, err := findIn(all, names, "2026-11-28T22:00:00Z"); err != nil || got != all[0] {
		t.Errorf("colon-style time of a unique second: %v %v", got, err)
	}
	// The names stay as they were before the second snapshot of 22:05:01.
	if got := NameSnapshots(all[:2]); got[1] != names[1] {
		t.Errorf("the first snapshot of a second was %q alone, %q with another", got[1], names[1])
	}
	// A time (not a name) that two snapshots share is ambiguous.
	for _, ref := range []string{"2026-11-28T22:05:01Z"} {
		_, err := findIn(all, names, ref)
		if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), want[1]) || !strings.Contains(err.Error(), want[2]) {
			t.Errorf("shared second %q: %v, want ErrAmbiguous naming both", ref, err)
		}
	}
	for _, ref := range []string{"dddd", "2026-11-28T23-00-00Z", "nonsense", ""} {
		if _, err := findIn(all, names, ref); !errors.Is(err, objectstore.ErrNotFound) {
			t.Errorf("find %q: %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := findIn(nil, nil, "latest"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("latest of none: %v", err)
	}
}

// TestSnapshotNamesSharedPrefix: two snapshots of one second whose IDs
// share 8 characters: the later is named by its whole ID.
func TestSnapshotNamesSharedPrefix(t *testing.T) {
	all := []*Snapshot{
		snapAt("abcdef01"+strings.Repeat("0", 24), "2026-01-01T00:00:00.1Z", ""),
		snapAt("abcdef01"+strings.Repeat("1", 24), "2026-01-01T00:00:00.2Z", ""),
	}
	names := NameSnapshots(all)
	if names[0] == names[1] || !strings.HasSuffix(names[1], all[1].ID) {
		t.Fatalf("names %q", names)
	}
	for i := range all {
		if got, err := findIn(all, names, names[i]); err != nil || got != all[i] {
			t.Errorf("find %q: %v %v", names[i], got, err)
		}
	}
}

func TestCheckHistory(t *testing.T) {
	a := snapAt("a0", "2026-01-01T00:00:00Z", "")
	b := snapAt("b0", "2026-01-02T00:00:00Z", "a0")
	c := snapAt("c0", "2026-01-03T00:00:00Z", "b0")
	cases := []struct {
		name     string
		snaps    []*Snapshot
		lastSeen []string
		want     []string // substrings, one per warning
	}{
		{"intact", []*Snapshot{a, b, c}, []string{"a0", "b0", "c0"}, nil},
		{"no history yet", nil, nil, nil},
		{"parent of the newest hidden", []*Snapshot{a, c}, nil, []string{"made on snapshot b0"}},
		{"newest hidden", []*Snapshot{a, b}, []string{"a0", "b0", "c0"}, []string{"snapshot c0 was listed before"}},
		{"both", []*Snapshot{a, c}, []string{"a0", "b0"}, []string{"made on snapshot b0", "snapshot b0 was listed before"}},
	}
	for _, tc := range cases {
		got := CheckHistory(tc.snaps, tc.lastSeen)
		if len(got) != len(tc.want) {
			t.Errorf("%s: warnings %q, want %d", tc.name, got, len(tc.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("%s: warning %q, want it to contain %q", tc.name, got[i], tc.want[i])
			}
		}
	}
}
