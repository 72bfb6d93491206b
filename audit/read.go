package audit

import (
	"context"
	"fmt"
	"strings"
)

// Entry is one object under audit/ as Read found it: a valid record, or
// an object that is not one (Err says why).
type Entry struct {
	Key    string
	Seq    uint64 // 0 for a key that is not a sequence key
	Record *Record
	Sealed []byte
	Err    error
}

// Read returns every object under audit/ at its first version (the one
// coffer wrote), sequence keys first in order, then any other keys.
// Objects that are not valid records are returned with Err set; only a
// failing store makes Read fail. tampered names, one line each, the
// later versions and delete markers found on audit keys.
func (l *Log) Read(ctx context.Context) (entries []Entry, tampered []string, err error) {
	sc, err := l.scanVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, seq := range sc.seqs {
		data, err := l.readVersion(ctx, seq, sc.first[seq])
		if err != nil {
			return nil, nil, err
		}
		e := Entry{Key: Key(seq), Seq: seq, Sealed: data}
		e.Record, e.Err = open(l.cfg.Keys, l.cfg.RepoID, seq, data)
		entries = append(entries, e)
	}
	for _, k := range sc.other {
		entries = append(entries, Entry{Key: k, Err: fmt.Errorf("%w: not a sequence key", ErrRecord)})
	}
	return entries, sc.tampered, nil
}

// Records returns the valid records of entries, in order.
func Records(entries []Entry) []Record {
	var out []Record
	for _, e := range entries {
		if e.Record != nil {
			out = append(out, *e.Record)
		}
	}
	return out
}

// Summary is one line describing rec, for people.
func Summary(rec Record) string {
	var b strings.Builder
	switch {
	case rec.Snapshot != nil:
		s := rec.Snapshot
		fmt.Fprintf(&b, "snapshot %s", s.ID)
		if s.Parent != "" {
			fmt.Fprintf(&b, " (parent %s)", short(s.Parent))
		}
		fmt.Fprintf(&b, ": %d files, %d bytes, %d new bytes in %d objects", s.Files, s.Bytes, s.New, s.Objects)
	case rec.Retention != nil:
		fmt.Fprintf(&b, "%d objects locked through %s", rec.Retention.Objects, rec.Retention.Through.UTC().Format("2006-01-02T15:04:05Z"))
	case rec.Key != nil:
		fmt.Fprintf(&b, "slot %s", rec.Key.Slot)
		if rec.Key.Kind != "" {
			fmt.Fprintf(&b, " (%s)", rec.Key.Kind)
		}
	case rec.Doctor != nil:
		if rec.Doctor.Passed {
			b.WriteString("every check held")
		} else {
			fmt.Fprintf(&b, "failed: %s", strings.Join(rec.Doctor.Failed, "; "))
		}
	case rec.Deletion != nil:
		d := rec.Deletion
		fmt.Fprintf(&b, "%s", d.Object)
		if len(d.Snapshots) > 0 {
			fmt.Fprintf(&b, ": snapshots %s", shortAll(d.Snapshots))
		}
		if len(d.Targets) > 0 {
			fmt.Fprintf(&b, " of %s", strings.Join(d.Targets, ", "))
		}
		if !d.Due.IsZero() {
			fmt.Fprintf(&b, ", due %s", d.Due.UTC().Format("2006-01-02T15:04:05Z"))
		}
	case rec.Prune != nil:
		p := rec.Prune
		fmt.Fprintf(&b, "%s: %d snapshots, %d packs (%d bytes)", p.Plan, len(p.Snapshots), p.Packs, p.Bytes)
		if p.Indexes > 0 || p.Slots > 0 {
			fmt.Fprintf(&b, ", %d index objects, %d key slots", p.Indexes, p.Slots)
		}
		if p.Locked > 0 {
			fmt.Fprintf(&b, "; %d objects still locked, left for a later prune", p.Locked)
		}
	case rec.Kind == KindGenesis:
		fmt.Fprintf(&b, "%d snapshots already there", len(rec.Snapshots))
	case rec.Mode != "":
		b.WriteString(rec.Mode)
	}
	if rec.Repaired {
		b.WriteString(" [repaired: written by a later mount]")
	}
	for _, s := range rec.Skipped {
		fmt.Fprintf(&b, " [skipped junk at %s]", Key(s.Seq))
	}
	if rec.Note != "" && rec.Kind != KindGenesis {
		fmt.Fprintf(&b, " (%s)", rec.Note)
	}
	return b.String()
}

func shortAll(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = short(id)
	}
	return strings.Join(out, ", ")
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
