package audit

import (
	"context"
	"errors"
	"fmt"
)

// ErrBroken means the audit log failed verification: a record is
// missing, changed, out of place or does not authenticate, or a snapshot
// has no commit record.
var ErrBroken = errors.New("the audit log is broken")

// Report is what Verify found.
type Report struct {
	Entries []Entry
	// Planted names, one line each, the objects under audit/ that are
	// not records: junk the writers stepped over, or keys no writer
	// would take. They do not break the chain.
	Planted []string
	// Tampered names the later versions and delete markers on audit
	// keys. They are not breaks: records are read at their first
	// version, so what was put over or hidden changes nothing of the
	// chain; they are named, as what an intruder added.
	Tampered []string
}

// Verify checks the whole log: sequence numbers run from 1 without a
// gap up to the last valid record, every record authenticates and links
// to the one before it, every object at a sequence key that is not a
// record is named by the next record's Skipped (with the same bytes), and
// every snapshot in snapshots (IDs) has a commit record or is named by
// the genesis record. Records are read at their first version, so the
// chain is judged as coffer wrote it, whatever was put over it; later
// versions and delete markers on audit keys are named in the report's
// Tampered, not breaks. The first break is returned as an error wrapping
// ErrBroken; a failing store is returned as itself. The report is filled
// either way.
func (l *Log) Verify(ctx context.Context, snapshots []string) (Report, error) {
	entries, tampered, err := l.Read(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Entries: entries, Tampered: tampered}
	last := -1
	for i, e := range entries {
		if e.Seq > 0 && e.Record != nil {
			last = i
		}
	}
	if last < 0 {
		return rep, fmt.Errorf("%w: it holds no record (a repository made before the log gets its genesis record at the next read-write mount)", ErrBroken)
	}
	recorded := map[string]bool{}
	var prev []byte
	var junk []Entry
	var broken error
	expected := uint64(1)
	for i, e := range entries {
		if e.Seq == 0 {
			rep.Planted = append(rep.Planted, fmt.Sprintf("%s is not a sequence key (%v)", e.Key, e.Err))
			continue
		}
		if i > last {
			rep.Planted = append(rep.Planted, fmt.Sprintf("%s after the last record is not a record (%v); the next writer steps over it", e.Key, e.Err))
			continue
		}
		if broken != nil {
			continue
		}
		if e.Seq != expected {
			gone := fmt.Sprintf("record %d is gone", expected)
			if e.Seq-1 > expected {
				gone = fmt.Sprintf("records %d to %d are gone", expected, e.Seq-1)
			}
			broken = fmt.Errorf("%w: %s is missing (%s: removed, or hidden from the listing)", ErrBroken, Key(expected), gone)
			continue
		}
		expected++
		if e.Record == nil {
			junk = append(junk, e)
			continue
		}
		rec := e.Record
		if err := checkSkips(rec, junk); err != nil {
			broken = fmt.Errorf("%w: %s: %v", ErrBroken, e.Key, err)
			continue
		}
		if rec.Prev != link(l.cfg.Keys, prev) {
			broken = fmt.Errorf("%w: %s does not link to the record before it: a record was changed or removed", ErrBroken, e.Key)
			continue
		}
		for _, j := range junk {
			rep.Planted = append(rep.Planted, fmt.Sprintf("%s is not a record (%v); %s stepped over it", j.Key, j.Err, e.Key))
		}
		junk, prev = nil, e.Sealed
		if rec.Snapshot != nil && rec.Kind == KindCommit {
			recorded[rec.Snapshot.ID] = true
		}
		if rec.Kind == KindGenesis {
			for _, id := range rec.Snapshots {
				recorded[id] = true
			}
		}
	}
	if broken != nil {
		return rep, broken
	}
	for _, id := range snapshots {
		if !recorded[id] {
			return rep, fmt.Errorf("%w: snapshot %s has no commit record (a crash between the snapshot and its record leaves this; the next read-write mount writes it, marked repaired)", ErrBroken, id)
		}
	}
	return rep, nil
}

// checkSkips checks that rec's Skipped names exactly the junk before it,
// with the same bytes.
func checkSkips(rec *Record, junk []Entry) error {
	named := make(map[uint64]Skip, len(rec.Skipped))
	for _, s := range rec.Skipped {
		named[s.Seq] = s
	}
	for _, j := range junk {
		s, ok := named[j.Seq]
		if !ok {
			return fmt.Errorf("%s is not a record (%v) and this record does not say it stepped over it: a record was replaced", j.Key, j.Err)
		}
		if s.SHA256 != skipOf(j.Seq, j.Sealed, j.Err).SHA256 {
			return fmt.Errorf("%s changed since this record stepped over it", j.Key)
		}
		delete(named, j.Seq)
	}
	for seq := range named {
		return fmt.Errorf("it says it stepped over %s, which is not junk now", Key(seq))
	}
	return nil
}
