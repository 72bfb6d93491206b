package audit

import (
	"context"
	"fmt"
	"strings"

	"coffer/objectstore"
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

// Read returns every object under audit/, sequence keys first in order,
// then any other keys. Objects that are not valid records are returned
// with Err set; only a failing store makes Read fail.
func (l *Log) Read(ctx context.Context) ([]Entry, error) {
	var seqKeys, other []Entry
	err := l.cfg.Store.List(ctx, Prefix, func(i objectstore.Info) error {
		if n, ok := parseKey(i.Key); ok && n > 0 {
			seqKeys = append(seqKeys, Entry{Key: i.Key, Seq: n})
		} else {
			other = append(other, Entry{Key: i.Key, Err: fmt.Errorf("%w: not a sequence key", ErrRecord)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	for i := range seqKeys {
		e := &seqKeys[i]
		data, err := l.cfg.Store.Get(ctx, e.Key)
		if err != nil {
			return nil, fmt.Errorf("read audit record %s: %w", e.Key, err)
		}
		e.Sealed = data
		e.Record, e.Err = open(l.cfg.Keys, l.cfg.RepoID, e.Seq, data)
	}
	return append(seqKeys, other...), nil
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

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
