package prune

import (
	"strings"
	"time"
)

// stamp is how prune prints a time: UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// short is an ID's first 8 characters, as coffer snapshots prints it.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func cmpString(a, b string) int { return strings.Compare(a, b) }
