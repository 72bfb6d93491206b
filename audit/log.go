package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// DefaultLockPeriod is how long audit records are locked when the data's
// retention is shorter: a year. Records outlive the data they describe,
// so the history of a deletion stays after what it deleted is gone.
const DefaultLockPeriod = 365 * 24 * time.Hour

// Lock is the retention audit records are written with.
type Lock struct {
	Mode   objectstore.Mode // empty means COMPLIANCE
	Period time.Duration    // 0: no lock (a store without object lock)
}

// LockFor is the lock of audit records in a repository whose data is
// locked for data in mode: DefaultLockPeriod, or twice data if that is
// longer, so records are always locked longer than the data. A
// repository without retention (data <= 0) locks no records either: its
// bucket may have no object lock.
func LockFor(mode objectstore.Mode, data time.Duration) Lock {
	if data <= 0 {
		return Lock{}
	}
	return Lock{Mode: mode, Period: max(DefaultLockPeriod, 2*data)}
}

// retention is the retention of a record written at now.
func (l Lock) retention(now time.Time) objectstore.Retention {
	if l.Period <= 0 {
		return objectstore.Retention{}
	}
	mode := l.Mode
	if mode == "" {
		mode = objectstore.Compliance
	}
	return objectstore.Retention{Mode: mode, Until: now.Add(l.Period)}
}

// Config describes the log of one repository, as one writer sees it.
type Config struct {
	Store  objectstore.Store
	Keys   *cipher.Keys
	RepoID []byte
	// Source is the writer's source ID (localstate.Dir.SourceID), Host
	// its host name, Version coffer's version: every record carries them.
	Source  string
	Host    string
	Version string
	// Lock is the retention of records, from the store's clock (Now).
	Lock Lock
	// Snapshots lists the IDs of the snapshots in the repository, for the
	// genesis record of a repository made before the log; nil: none.
	Snapshots func(ctx context.Context) ([]string, error)
	Logger    *slog.Logger
}

// Log appends to and reads a repository's audit log. It is safe for
// concurrent use; two Logs (two processes, two servers) writing at once
// never fork the chain, because each record is written put-once at the
// next sequence key and the loser of a race re-reads the tail.
type Log struct {
	cfg Config

	mu      sync.Mutex        // one append at a time; guards the fields below
	known   bool              // the tail below has been read from the store
	next    uint64            // the sequence number the next record takes
	prev    []byte            // sealed bytes of the last valid record; nil if none
	skipped []Skip            // junk between prev and next, for the next record
	ids     map[uint64]string // first version IDs of the sequence keys known
}

// New returns the log described by cfg. It reads nothing until used.
func New(cfg Config) *Log {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Log{cfg: cfg}
}

// putAttempts bounds how often one record is retried after store errors
// that are neither a lost race nor junk; the S3 client retries each of
// them too.
const putAttempts = 4

// retryWait is the first wait before such a retry; it grows linearly.
const retryWait = 200 * time.Millisecond

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Append writes rec as the next record and returns it as written (with
// its sequence number, link, time and source). On a repository whose log
// is empty and rec is not the init record, a genesis record naming the
// snapshots already there is written first. Objects at the next key that
// are not valid records are stepped over and named in rec.Skipped.
func (l *Log) Append(ctx context.Context, rec Record) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadTail(ctx); err != nil {
		return Record{}, err
	}
	if l.prev == nil && rec.Kind != KindInit && rec.Kind != KindGenesis {
		var ids []string
		if l.cfg.Snapshots != nil {
			var err error
			if ids, err = l.cfg.Snapshots(ctx); err != nil {
				return Record{}, fmt.Errorf("audit genesis: list snapshots: %w", err)
			}
		}
		g := Record{Kind: KindGenesis, Snapshots: ids, Note: "the audit log starts here"}
		if _, err := l.appendLocked(ctx, g); err != nil {
			return Record{}, err
		}
	}
	return l.appendLocked(ctx, rec)
}

// appendLocked writes rec at the tail; l.mu is held and the tail known.
func (l *Log) appendLocked(ctx context.Context, rec Record) (Record, error) {
	failures := 0
	var r Record
	var sealed []byte
	var now time.Time
	for {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		// Seal once per sequence number: a retry after a lost answer
		// must send the same bytes, or the stored copy would not be
		// recognised as ours.
		if sealed == nil || r.Seq != l.next {
			var err error
			if now, err = l.cfg.Store.Now(ctx); err != nil {
				return Record{}, fmt.Errorf("audit record: the store's clock: %w", err)
			}
			r = rec
			r.Seq, r.Prev, r.Time = l.next, link(l.cfg.Keys, l.prev), now.UTC()
			r.Source, r.Host, r.Version = l.cfg.Source, l.cfg.Host, l.cfg.Version
			r.Skipped = slices.Clone(l.skipped)
			if sealed, err = seal(l.cfg.Keys, l.cfg.RepoID, &r); err != nil {
				return Record{}, err
			}
		}
		key := Key(r.Seq)
		vid, err := l.cfg.Store.Put(ctx, key, sealed, l.cfg.Lock.retention(now))
		if err == nil {
			if l.firstIsOurs(ctx, key, vid) {
				l.advance(sealed, vid)
				return r, nil
			}
			// Put succeeds over a delete marker: what it hid is the
			// key's first version, so readers would ignore ours. Judge
			// the key as taken.
			err = objectstore.ErrExists
		}
		if !errors.Is(err, objectstore.ErrExists) {
			if failures++; failures >= putAttempts || ctx.Err() != nil ||
				errors.Is(err, objectstore.ErrInvalidKey) || errors.Is(err, objectstore.ErrPermission) {
				return Record{}, fmt.Errorf("write audit record %s: %w", key, err)
			}
			l.cfg.Logger.Warn("audit record not written; retrying", "key", key, "err", err)
			if !sleep(ctx, time.Duration(failures)*retryWait) {
				return Record{}, ctx.Err()
			}
			continue
		}
		// Someone holds the key: ourselves (an answer lost), another
		// writer that won the race, or junk.
		stored, vid, gerr := l.readFirst(ctx, r.Seq)
		if gerr != nil {
			return Record{}, fmt.Errorf("audit record %s exists and could not be read: %w", key, gerr)
		}
		if bytes.Equal(stored, sealed) {
			l.cfg.Logger.Info("audit record was already stored by an earlier attempt", "key", key)
			l.advance(sealed, vid)
			return r, nil
		}
		if _, oerr := open(l.cfg.Keys, l.cfg.RepoID, r.Seq, stored); oerr != nil {
			l.cfg.Logger.Warn("audit: an object that is not a record holds the next key; skipping it", "key", key, "err", oerr)
			l.skipped = append(l.skipped, skipOf(r.Seq, stored, oerr))
			l.next++
			continue
		}
		l.advance(stored, vid) // another writer's record: go after it
	}
}

// advance makes sealed, stored as version vid, the record at l.next and
// the tail.
func (l *Log) advance(sealed []byte, vid string) {
	l.ids[l.next] = vid
	l.prev, l.skipped = sealed, nil
	l.next++
}

// loadTail finds the last valid record and the junk after it, once.
func (l *Log) loadTail(ctx context.Context) error {
	if l.known {
		return nil
	}
	sc, err := l.scanVersions(ctx)
	if err != nil {
		return err
	}
	seqs := sc.seqs
	l.next, l.prev, l.skipped, l.ids = 1, nil, nil, sc.first
	var junk []Skip
	for i := len(seqs) - 1; i >= 0; i-- {
		data, err := l.readVersion(ctx, seqs[i], sc.first[seqs[i]])
		if err != nil {
			return err
		}
		if _, oerr := open(l.cfg.Keys, l.cfg.RepoID, seqs[i], data); oerr != nil {
			junk = append(junk, skipOf(seqs[i], data, oerr))
			continue
		}
		l.prev, l.next = data, seqs[i]+1
		break
	}
	// Junk right after the last record (at the keys the next writer
	// would take) is skipped; junk further off, past a gap, is no part of
	// the chain and is named by Verify.
	slices.Reverse(junk)
	for _, s := range junk {
		if s.Seq != l.next {
			break
		}
		l.skipped = append(l.skipped, s)
		l.next++
	}
	l.known = true
	return nil
}
