// Package duration is coffer's one grammar for spans of time on the
// command line (retention, snapshot intervals, timeouts), so a unit means
// the same in every flag.
//
// A duration is one or more terms, each a whole number and a unit, with
// no spaces: "30d", "90s", "1d12h", "2w". The units are
//
//	ms   milliseconds
//	s    seconds
//	min  minutes
//	h    hours
//	d    days (24 h)
//	w    weeks (7 d)
//	y    years (365 d)
//
// A bare "m" is refused: other tools read it as minutes (Go) or as months
// (restic's --keep-within), so coffer accepts neither reading and asks for
// "min" or a number of days. Months are not a unit: their length varies.
// "0" alone is the zero duration.
package duration

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax: the text is not a duration in coffer's grammar.
var ErrSyntax = errors.New("not a duration")

// Units of the grammar, longest first where one is a prefix of another.
var units = []struct {
	name string
	d    time.Duration
}{
	{"min", time.Minute},
	{"ms", time.Millisecond},
	{"s", time.Second},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"y", 365 * 24 * time.Hour},
}

// Parse reads s in coffer's grammar. Errors wrap ErrSyntax and say what
// to write instead.
func Parse(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("%w: empty; write a number and a unit, such as 30d or 90s", ErrSyntax)
	}
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%w: %q: expected a number at %q (units: ms, s, min, h, d, w, y)", ErrSyntax, s, rest)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %v", ErrSyntax, s, err)
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		d, err := unitOf(s, unit)
		if err != nil {
			return 0, err
		}
		if n > int64((1<<63-1)/d) || total > (1<<63-1)-time.Duration(n)*d {
			return 0, fmt.Errorf("%w: %q is too long", ErrSyntax, s)
		}
		total += time.Duration(n) * d
	}
	return total, nil
}

func unitOf(s, unit string) (time.Duration, error) {
	switch unit {
	case "":
		return 0, fmt.Errorf("%w: %q: a number needs a unit (ms, s, min, h, d, w or y), such as %sd", ErrSyntax, s, s)
	case "m":
		return 0, fmt.Errorf("%w: %q: \"m\" is ambiguous (minutes or months?); write \"min\" for minutes, or days (\"d\") for months", ErrSyntax, s)
	}
	for _, u := range units {
		if u.name == unit {
			return u.d, nil
		}
	}
	return 0, fmt.Errorf("%w: %q: unknown unit %q (units: ms, s, min, h, d, w, y)", ErrSyntax, s, unit)
}

// Format writes d in the grammar, so Parse(Format(d)) == d for any d that
// is a whole number of milliseconds and not negative; finer parts are
// dropped. It uses the largest units that fit: 36h is "1d12h", 0 is "0".
func Format(d time.Duration) string {
	if d < time.Millisecond {
		return "0"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}

// Value is a flag value in the grammar (it implements pflag.Value and
// flag.Value), for commands that take a duration.
type Value struct{ D *time.Duration }

// String is the current value in the grammar.
func (v Value) String() string {
	if v.D == nil {
		return "0"
	}
	return Format(*v.D)
}

// Set parses s into the value.
func (v Value) Set(s string) error {
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*v.D = d
	return nil
}

// Type names the value in flag help.
func (v Value) Type() string { return "duration" }
