package repo

import "fmt"

// CheckHistory returns one warning line for each break in the snapshot
// history it can see: the newest snapshot of snaps (oldest first) naming
// a parent that is not listed, and every snapshot ID in lastSeen (the IDs
// listed on an earlier run; nil if unknown) that is no longer listed. A
// snapshot is not listed when it was deleted, hidden, or is damaged; an
// empty result means no break was seen.
func CheckHistory(snaps []*Snapshot, lastSeen []string) []string {
	listed := make(map[string]bool, len(snaps))
	for _, s := range snaps {
		listed[s.ID] = true
	}
	var warnings []string
	if n := len(snaps); n > 0 {
		newest := snaps[n-1]
		if p := newest.Parent; p != "" && !listed[p] {
			warnings = append(warnings, fmt.Sprintf(
				"the newest snapshot %s (%s) was made on snapshot %s, which is not listed: it was deleted, hidden or is damaged",
				newest.ID, NameSnapshots(snaps)[n-1], p))
		}
	}
	for _, id := range lastSeen {
		if !listed[id] {
			warnings = append(warnings, fmt.Sprintf(
				"snapshot %s was listed before and is not listed now: it was deleted, hidden or is damaged", id))
		}
	}
	return warnings
}
