package main

import (
	"fmt"
	"sort"
	"strings"
)

// A row of the table: a measured figure (key), or a ratio of two figures
// (key "num/den"), with an optional target ("<= 2", ">= 0.8", "< 1").
type row struct {
	fig, name, key, unit, target string
}

// result words of the table; skipped and n/a rows do not fail a run.
const (
	resPass    = "PASS"
	resMiss    = "MISS"
	resInfo    = "info"
	resFailed  = "FAILED"
	resSkipped = "skipped"
	resNA      = "n/a"
)

// set records a measured figure.
func (b *bench) set(key string, v float64) {
	b.vals[key] = v
	b.say("  %s = %s", key, format(v))
}

// fail records why a figure could not be measured. A reason starting
// "skipped" or "n/a" marks a figure left out on purpose, or one the binary
// under test cannot do yet.
func (b *bench) fail(key, reason string) {
	if _, ok := b.fails[key]; ok {
		return
	}
	b.fails[key] = reason
	b.say("  %s: %s", key, reason)
}

// failAll marks every key not yet measured as failed for one reason.
func (b *bench) failAll(reason string, keys ...string) {
	for _, k := range keys {
		if _, ok := b.vals[k]; !ok {
			b.fail(k, reason)
		}
	}
}

// value returns a figure or a ratio of two, or why it is missing and the
// result word that goes with that.
func (b *bench) value(key string) (v float64, res, note string) {
	if num, den, ok := strings.Cut(key, "/"); ok {
		a, resA, noteA := b.value(num)
		if resA != "" {
			return 0, resA, "needs " + num + ": " + noteA
		}
		d, resD, noteD := b.value(den)
		if resD != "" {
			return 0, resD, "needs " + den + ": " + noteD
		}
		if d == 0 {
			return 0, resFailed, den + " is 0"
		}
		return a / d, "", ""
	}
	if v, ok := b.vals[key]; ok {
		return v, "", b.notes[key]
	}
	reason, ok := b.fails[key]
	switch {
	case !ok && (len(b.cfg.only) > 0 || len(b.cfg.skip) > 0):
		return 0, resSkipped, "skipped (-only, -skip)"
	case !ok:
		return 0, resFailed, "not measured"
	case strings.HasPrefix(reason, resSkipped):
		return 0, resSkipped, reason
	case strings.HasPrefix(reason, resNA):
		return 0, resNA, strings.TrimSpace(strings.TrimPrefix(reason, resNA+":"))
	}
	return 0, resFailed, reason
}

// judge compares v with a target such as "<= 2".
func judge(v float64, target string) string {
	op, wantS, _ := strings.Cut(target, " ")
	var want float64
	fmt.Sscan(wantS, &want)
	ok := false
	switch op {
	case "<=":
		ok = v <= want
	case "<":
		ok = v < want
	case ">=":
		ok = v >= want
	case ">":
		ok = v > want
	}
	if ok {
		return resPass
	}
	return resMiss
}

// table renders rows as a Markdown table and counts failed and missed
// rows.
func (b *bench) table(rows []row) (text string, failed, missed int) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| %-4s | %-58s | %10s | %-5s | %-7s | %-7s | %s\n", "fig", "figure", "value", "unit", "target", "result", "note")
	fmt.Fprintf(&sb, "|------|%s|------------|-------|---------|---------|------\n", strings.Repeat("-", 60))
	for _, r := range rows {
		v, res, note := b.value(r.key)
		val := "-"
		if res == "" {
			val = format(v)
			res = resInfo
			if r.target != "" {
				res = judge(v, r.target)
			}
		}
		switch res {
		case resFailed:
			failed++
		case resMiss:
			missed++
		}
		target := r.target
		if target == "" {
			target = "-"
		}
		fmt.Fprintf(&sb, "| %-4s | %-58s | %10s | %-5s | %-7s | %-7s | %s\n", r.fig, r.name, val, r.unit, target, res, note)
	}
	return sb.String(), failed, missed
}

// format prints a figure with three significant digits or so.
func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// requests is the number of requests in counts, FORGET left out as
// perFile leaves it out.
func requests(counts map[string]uint64) uint64 {
	var n uint64
	for op, c := range counts {
		if op != "FORGET" {
			n += c
		}
	}
	return n
}

// perFile turns request counts into requests per file: the total (FORGET
// left out: the kernel sends those when it likes, not per operation) and
// the operations from most to least frequent.
func perFile(counts map[string]uint64, files int) (total float64, detail string) {
	type opN struct {
		op string
		n  float64
	}
	var ops []opN
	for op, n := range counts {
		if op == "FORGET" {
			continue
		}
		per := float64(n) / float64(files)
		total += per
		ops = append(ops, opN{op, per})
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].n != ops[j].n {
			return ops[i].n > ops[j].n
		}
		return ops[i].op < ops[j].op
	})
	var parts []string
	for _, o := range ops {
		if o.n >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f", o.op, o.n))
		}
	}
	return total, strings.Join(parts, ", ")
}
