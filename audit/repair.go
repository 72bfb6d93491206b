package audit

import "context"

// repairLookback bounds how many records Repair reads back from the tail
// to find the last commit record.
const repairLookback = 256

// Repair writes the commit records a crash left out: snaps (oldest
// first) are the snapshots this server made; each one newer than the
// snapshot of this source's last commit record (or, on a log without
// one, not named by the genesis record) that has no commit record gets
// one, marked Repaired. It returns how many it wrote.
//
// A server writes each commit record right after its snapshot, so only
// its snapshots after its last commit record can lack one; Repair reads
// back from the tail only to that record. Verify checks every snapshot.
func (l *Log) Repair(ctx context.Context, snaps []Commit) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadTail(ctx); err != nil {
		return 0, err
	}
	recorded := map[string]bool{}
	var newest *Commit // the snapshot of the last commit record
	for seq, n := l.next-1, 0; seq > 0 && n < repairLookback && newest == nil; seq, n = seq-1, n+1 {
		var data []byte
		var err error
		if seq == l.next-1 && len(l.skipped) == 0 && l.prev != nil {
			data = l.prev // the tail, known already
		} else if id, ok := l.ids[seq]; ok {
			data, err = l.readVersion(ctx, seq, id)
		} else {
			data, _, err = l.readFirst(ctx, seq)
		}
		if err != nil {
			return 0, err
		}
		rec, err := open(l.cfg.Keys, l.cfg.RepoID, seq, data)
		if err != nil {
			continue // junk, skipped by the record after it
		}
		switch {
		case rec.Kind == KindCommit && rec.Snapshot != nil:
			recorded[rec.Snapshot.ID] = true
			if rec.Source == l.cfg.Source {
				newest = rec.Snapshot
			}
		case rec.Kind == KindGenesis:
			for _, id := range rec.Snapshots {
				recorded[id] = true
			}
			newest = &Commit{}
		case rec.Kind == KindInit:
			newest = &Commit{}
		}
	}
	if l.prev == nil {
		return 0, nil // an empty log: Append writes a genesis record naming them all
	}
	wrote := 0
	for _, s := range snaps {
		if recorded[s.ID] || (newest != nil && !s.Time.After(newest.Time)) {
			continue
		}
		if _, err := l.appendLocked(ctx, Record{Kind: KindCommit, Snapshot: &s, Repaired: true}); err != nil {
			return wrote, err
		}
		recorded[s.ID] = true
		wrote++
	}
	return wrote, nil
}
