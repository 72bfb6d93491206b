package repo

import (
	"errors"
	"fmt"
	"strings"

	"coffer/objectstore"
)

// SnapshotTimeFormat is the time part of a snapshot's name: UTC to the
// second, no colons (so it is a portable file name).
const SnapshotTimeFormat = "2006-01-02T15-04-05Z"

// listTimeFormat is the time `coffer snapshots` prints; FindSnapshot
// accepts it too.
const listTimeFormat = "2006-01-02T15:04:05Z"

// ListTime is how listings print a snapshot's time (UTC, to the second).
func ListTime(s *Snapshot) string { return s.Time.UTC().Format(listTimeFormat) }

// NameSnapshots gives each snapshot of all its name, index for index: the
// UTC time of the snapshot (SnapshotTimeFormat); a snapshot made in the
// same second as an earlier one gets the time, "_" and the first 8
// characters of its ID (the whole ID if even those are shared). Names are
// distinct, a name once shown does not change when later snapshots
// arrive, and FindSnapshot accepts every one. This is the one naming
// rule: the .snapshots directory, `coffer snapshots` and --snapshot all
// use it.
func NameSnapshots(all []*Snapshot) []string {
	first := make(map[string]*Snapshot, len(all)) // the earliest snapshot of each second
	short := make(map[string]int, len(all))
	for _, s := range all {
		t := s.Time.UTC().Format(SnapshotTimeFormat)
		if f, ok := first[t]; !ok || s.Time.Before(f.Time) || s.Time.Equal(f.Time) && s.ID < f.ID {
			first[t] = s
		}
		short[t+"_"+idPrefix(s.ID, 8)]++
	}
	names := make([]string, len(all))
	for i, s := range all {
		t := s.Time.UTC().Format(SnapshotTimeFormat)
		switch {
		case first[t] == s:
			names[i] = t
		case short[t+"_"+idPrefix(s.ID, 8)] == 1:
			names[i] = t + "_" + idPrefix(s.ID, 8)
		default:
			names[i] = t + "_" + s.ID
		}
	}
	return names
}

func idPrefix(id string, n int) string { return id[:min(n, len(id))] }

// findIn resolves ref among all (oldest first), named by names. It
// accepts "latest", a name, a time (as in names, or with colons as
// `coffer snapshots` prints it, optionally with "_" and an ID prefix), a
// full ID, or a unique ID prefix. A name is exact and wins; a time that
// several snapshots share is ambiguous, and the error names the names
// that tell them apart.
func findIn(all []*Snapshot, names []string, ref string) (*Snapshot, error) {
	if len(all) == 0 {
		return nil, fmt.Errorf("no snapshots yet: %w", objectstore.ErrNotFound)
	}
	if ref == "latest" {
		return all[len(all)-1], nil
	}
	// The colon-style time of listings is the same name with colons.
	norm := strings.ReplaceAll(ref, ":", "-")
	var byTime []int
	for i, s := range all {
		if names[i] == ref {
			return s, nil
		}
		if t, suffix, _ := strings.Cut(norm, "_"); s.Time.UTC().Format(SnapshotTimeFormat) == t &&
			strings.HasPrefix(s.ID, suffix) {
			byTime = append(byTime, i)
		}
	}
	var byID []int
	if ref != "" && isHex(ref) {
		for i, s := range all {
			if strings.HasPrefix(s.ID, ref) {
				byID = append(byID, i)
			}
		}
	}
	matches := byTime
	if len(matches) == 0 {
		matches = byID
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("snapshot %q: %w (coffer snapshots lists them)", ref, objectstore.ErrNotFound)
	case 1:
		return all[matches[0]], nil
	}
	cands := make([]string, 0, len(matches))
	for _, i := range matches {
		cands = append(cands, names[i])
	}
	return nil, fmt.Errorf("%w: snapshot %q names %d snapshots; use one of %s, or a longer ID",
		ErrAmbiguous, ref, len(matches), strings.Join(cands, ", "))
}

// ErrAmbiguous: a snapshot reference matches more than one snapshot.
var ErrAmbiguous = errors.New("ambiguous snapshot name")

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
