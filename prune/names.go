package prune

import (
	"fmt"
	"math"
	"strconv"
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

// ParseShare reads a share as the flags take it: "5%" or "5" (per cent),
// 0 to 100. Zero per cent is kept as the smallest share above zero, so
// that "more than 0%" means "any".
func ParseShare(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: want a percentage from 0 to 100, such as 5%%", s)
	}
	return max(v/100, math.SmallestNonzeroFloat64), nil
}

// shortAll is ids, each short, space separated.
func shortAll(ids []string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = short(id)
	}
	return strings.Join(s, " ")
}
