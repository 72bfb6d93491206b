package prune

import (
	"fmt"
	"io"
	"strings"
	"time"

	"coffer/bytesize"
)

// WriteText prints what prune did and plans, for people: one line per
// snapshot, pack or object kept and why, and the counts.
func (rep *Report) WriteText(w io.Writer) {
	if rep == nil {
		return
	}
	if rep.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed")
	}
	for _, s := range rep.Sessions {
		base := "no base snapshot recorded"
		if s.Base != "" {
			base = "base " + short(s.Base) + " kept"
		}
		fmt.Fprintf(w, "running mount on %s (source %s) since %s: %s\n", s.Host, short(s.Source), stamp(s.Mounted), base)
	}
	if !rep.Cutoff.IsZero() {
		fmt.Fprintf(w, "packs uploaded after %s are kept for the running mounts\n", stamp(rep.Cutoff))
	}
	for _, e := range rep.Executed {
		verb := "carried out"
		if rep.DryRun {
			verb = "would carry out"
		}
		fmt.Fprintf(w, "%s %s:\n", verb, strings.Join(e.Plans, ", "))
		fmt.Fprintf(w, "  snapshots removed: %d %s\n", len(e.Removed), shortAll(e.Removed))
		for _, k := range e.Kept {
			fmt.Fprintf(w, "  kept %s (%s): %s\n", k.Name, short(k.ID), k.Why)
		}
		fmt.Fprintf(w, "  packs deleted: %d (%s); index objects superseded: %d", e.Packs, bytesize.IEC(uint64(e.Bytes)), e.Indexes)
		if e.Compacted != "" {
			fmt.Fprintf(w, " (compacted into %s)", e.Compacted)
		}
		fmt.Fprintf(w, "; key slots removed: %d\n", e.Slots)
		for _, k := range e.KeptPacks {
			fmt.Fprintf(w, "  kept pack %s\n", k)
		}
		writeLocked(w, e.Locked)
		fmt.Fprintf(w, "  took %s\n", e.Took.Round(time.Millisecond))
	}
	p := rep.Plan
	if p == nil {
		return
	}
	fmt.Fprintln(w, "plan:")
	for _, s := range p.Remove {
		fmt.Fprintf(w, "  remove %s (%s) of %s, due %s\n", s.Name, short(s.ID), s.Host, stamp(s.Due))
	}
	for _, s := range p.Kept {
		fmt.Fprintf(w, "  keep %s (%s): %s\n", s.Name, short(s.ID), s.Why)
	}
	var repacked, needed int64
	for _, pk := range p.Repack {
		repacked += pk.Size
		needed += pk.Used
	}
	fmt.Fprintf(w, "  packs: %d unused to delete (%s); %d partly used to repack (%s, of which %s still needed is written again)\n",
		len(p.Packs), bytesize.IEC(uint64(p.Bytes-repacked)), len(p.Repack), bytesize.IEC(uint64(repacked)), bytesize.IEC(uint64(needed)))
	if len(p.Repack) > 0 {
		fmt.Fprintln(w, "  a repacked pack's space returns only when its object lock lapses")
	}
	fmt.Fprintf(w, "  index objects to compact: %d; revoked key slots to remove: %d\n", len(p.Indexes), len(p.Slots))
	writeLocked(w, p.Locked)
	for _, why := range p.Refused {
		fmt.Fprintf(w, "  refused without --force: %s\n", why)
	}
	switch {
	case p.Key != "":
		fmt.Fprintf(w, "published as %s; deletes from %s (the prune margin)\n", p.Key, stamp(p.Due))
	case p.Empty():
		fmt.Fprintln(w, "  nothing to remove")
	}
	fmt.Fprintf(w, "  planned in %s\n", p.Took.Round(time.Millisecond))
}

func writeLocked(w io.Writer, locked []Locked) {
	for _, l := range locked {
		until := "a date the store does not say"
		if !l.Until.IsZero() {
			until = stamp(l.Until)
		}
		fmt.Fprintf(w, "  still locked, left for a later prune: %s, until %s\n", l.Key, until)
	}
}
