package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/audit"
	"coffer/objectstore"
)

// Retention kept ahead of every snapshot.
//
// The rule, with R the repository's retention (Policy.Period) and times
// from the store's clock (Store.Now): before a snapshot is published,
// every object a live snapshot needs whose retain-until is earlier than
// now + R is extended to now + 1.5 R. So at every snapshot every needed
// object is locked for at least R more, and each is extended about once
// per half-retention. The version extended is always the key's first
// version (the one coffer wrote), by its version ID.
//
// What a snapshot needs: the packs of every block beneath its root
// (blocks reused from older snapshots and subtrees reused by ID
// included), its link table's pack, the index objects that name those
// packs, every key slot not revoked and every revocation, and always
// every object under snapshots/, audit/ and retain/, and the config.
//
// The cost follows what changed: the repository remembers, in memory and
// in one sealed ledger record per snapshot (retain/<snapshot ID>, see
// retain_ledger.go), the trees already walked, the packs they need and
// the packs each index object names; only trees, snapshots and index
// objects new since are read. Retain-until dates are never taken from
// the store (a record an intruder holding the key planted must not make
// coffer believe a lock is longer than it is): they are remembered in
// memory and, when Options.RetainCache is set, in the server's local
// state (retain_cache.go), which an intruder could only change with the
// power to stop extensions anyway. So a restarted daemon extends only
// what is due; without the cache a fresh process extends each needed
// object once at its first snapshot. A date is used only while the
// version ID it was set on is still the key's first version, which each
// step lists.

// Ahead of the rule: extend when fewer than extendBelow×R remain, to
// extendTo×R from now. Named here so prune and doctor share them.
const (
	extendBelow = 1.0
	extendTo    = 1.5
)

// clockSlack is how far past now + 1.5 R a remembered date may lie and
// still be believed: later than that coffer never set it (unless the
// store's clock went back), so the object is extended again, which
// never shortens a lock.
const clockSlack = time.Minute

// extendWorkers bounds the extension requests in flight.
const extendWorkers = 8

// alwaysNeeded are the prefixes (and the config key) whose every object
// is kept locked: they are few, and losing any of them is a ransom. Key
// slots and revocations are judged apart (keyObjects); so are the
// snapshot objects and ledger records of excluded snapshots.
var alwaysNeeded = slices.Concat([]string{configKey, auditPrefix, retainPrefix, snapshotPrefix}, DeletionPrefixes)

// auditPrefix holds the audit log's records, which retention keeps locked.
const auditPrefix = audit.Prefix

// retainState is what the repository remembers between snapshots. Its
// zero value is ready; it loads the ledger at the first step.
type retainState struct {
	mu sync.Mutex // held through a whole step; guards every field below

	loaded     bool
	walker     *Walker
	covered    map[string]bool        // snapshot IDs whose packs are in packs
	packs      map[PackID]struct{}    // packs some covered snapshot needs
	indexPacks map[string][]PackID    // index object key → packs it names
	version    map[string]string      // object key → its first version's ID
	until      map[string]RetainEntry // object key → retain-until set (or loaded), and on which version
	saved      map[string]RetainEntry // what RetainCache holds now
	last       RetentionStats         // what the last step did
	keySig     string                 // the keys/ and revocations/ listing keyNeeded was judged on
	keyNeeded  []string               // slots not revoked, and revocations
	// What deletion decides, as of the step the state was built under
	// (retain_exclude.go): walker, covered, packs and indexPacks are
	// built again whenever it changes.
	excluded map[string]bool // snapshots with a pending request, not held: they keep nothing
	away     map[PackID]bool // packs of every prune plan: a block's pack is kept only if it has none outside
	sig      string          // excluded and the plans' keys, as one string

	skew atomic.Int64 // the store's clock minus ours, in ns, at the last step; read without mu
}

// storeTime is the store's time now, as far as the last step measured
// its clock against ours: new objects' retain-until dates count from it.
func (r *Repository) storeTime() time.Time {
	return r.opts.Clock().Add(time.Duration(r.retain.skew.Load()))
}

// RetentionStats says what one retention step did.
type RetentionStats struct {
	Now      time.Time // the store's time the step judged by
	Until    time.Time // the date data objects were extended to (audit records: their own, later)
	Needed   int       // objects needed by live snapshots
	Extended int       // of those, extended in this step
	Walked   int       // trees read in this step
	Requests int       // store requests the step made
}

// walkForRetention is SaveSnapshot's first step, before Flush: it walks
// the trees of s that no walk has seen, while those just written are
// still in memory (no request reads them back). A repository without
// retention does nothing (nil).
func (r *Repository) walkForRetention(ctx context.Context, s *Snapshot) (*snapshotWalk, error) {
	if r.params.Retention.Period() <= 0 {
		return nil, nil
	}
	st := &r.retain
	st.mu.Lock()
	defer st.mu.Unlock()
	var stats RetentionStats
	if !st.loaded {
		st.init(r)
		r.loadRetainCache()
		ex, err := r.exclusions(ctx, &stats)
		if err != nil {
			return nil, err
		}
		st.exclude(ex)
		// The ledger says what each walk found that the walks before
		// it had not: sound only while every snapshot since the first
		// still counts, so only before any request or plan.
		if ex.sig == "" {
			if err := r.loadLedger(ctx, &stats); err != nil {
				return nil, err
			}
		}
		st.loaded = true
	}
	w, err := r.walkSnapshot(ctx, s, &stats)
	if err != nil {
		return nil, err
	}
	w.stats = stats
	return w, nil
}

// keepRetention is SaveSnapshot's step after Flush and before it puts the
// snapshot w walked: it applies the rule to everything live snapshots
// and that snapshot need, and returns the ledger record to write once the
// snapshot has its ID.
func (r *Repository) keepRetention(ctx context.Context, w *snapshotWalk) (*ledgerRecord, error) {
	if w == nil {
		return nil, nil
	}
	period := r.params.Retention.Period()
	st := &r.retain
	st.mu.Lock()
	defer st.mu.Unlock()
	stats := w.stats
	now, err := r.store.Now(ctx)
	stats.Requests++
	if err != nil {
		return nil, fmt.Errorf("keep retention: the store's time: %w", err)
	}
	stats.Now = now
	st.skew.Store(int64(now.Sub(r.opts.Clock())))
	ex, err := r.exclusions(ctx, &stats)
	if err != nil {
		return nil, err
	}
	if ex.sig != st.sig {
		// A request, cancellation, hold, release or plan since the
		// state was built: build it again from the live snapshots.
		r.log.Info("retention: deletion requests or prune plans changed; walking every live snapshot again",
			"excluded", len(ex.snapshots), "plans", ex.plans)
		st.reset(r)
		st.exclude(ex)
		if w, err = r.walkSnapshot(ctx, w.snap, &stats); err != nil {
			return nil, err
		}
	}
	rec := r.cover(w)
	need, err := r.neededObjects(ctx, &stats)
	if err != nil {
		return nil, err
	}
	rec.Indexes = need.newIndexes
	stats.Needed = len(need.keys)
	stats.Until = now.Add(time.Duration(extendTo * float64(period)))
	if err := r.extendDue(ctx, need.keys, now, period, &stats); err != nil {
		return nil, err
	}
	st.last = stats
	r.saveRetainCache(need.keys)
	r.log.Info("retention kept", "needed", stats.Needed, "extended", stats.Extended,
		"until", stats.Until, "trees", stats.Walked, "requests", stats.Requests)
	return rec, nil
}

// extendDue extends each of keys whose retain-until is not known to be
// at least now + R, to now + 1.5 R. A date is known if this process set
// it or RetainCache held it, on the version ID the key's first version
// still has, and it is no later than coffer would have set.
func (r *Repository) extendDue(ctx context.Context, keys []string, now time.Time, period time.Duration, stats *RetentionStats) error {
	st := &r.retain
	var due []string
	var until []time.Time
	for _, k := range keys {
		p := lockPeriod(k, period)
		floor := now.Add(time.Duration(extendBelow * float64(p)))
		to := now.Add(time.Duration(extendTo * float64(p)))
		if e, ok := st.until[k]; !ok || e.Version != st.version[k] || e.Until.Before(floor) || e.Until.After(to.Add(clockSlack)) {
			due = append(due, k)
			until = append(until, to)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(extendWorkers)
	gone := make([]bool, len(due))
	for i, k := range due {
		v := st.version[k]
		ret := objectstore.Retention{Mode: r.params.Retention.mode(), Until: until[i]}
		g.Go(func() error {
			err := r.store.ExtendRetentionVersion(gctx, k, v, ret)
			if errors.Is(err, objectstore.ErrNotFound) { // nothing left to keep
				r.skip(k, "needed by a snapshot, but coffer's version is gone", err)
				gone[i] = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("keep retention: extend %s: %w", k, err)
			}
			return nil
		})
	}
	err := g.Wait()
	stats.Requests += len(due)
	if err != nil {
		return err
	}
	for i, k := range due {
		if gone[i] {
			delete(st.version, k)
			continue
		}
		st.until[k] = RetainEntry{Version: st.version[k], Until: until[i]}
		stats.Extended++
	}
	return nil
}

// lockPeriod is the R an object under key is kept locked for: the
// repository's retention R, or for audit records their own, longer lock,
// max(a year, 2R) (audit.LockFor: the two must agree).
func lockPeriod(key string, data time.Duration) time.Duration {
	if strings.HasPrefix(key, auditPrefix) {
		return audit.LockFor("", data).Period
	}
	return data
}

// LastRetention reports what the last snapshot's retention step did.
func (r *Repository) LastRetention() RetentionStats {
	r.retain.mu.Lock()
	defer r.retain.mu.Unlock()
	return r.retain.last
}

func (st *retainState) init(r *Repository) {
	st.reset(r)
	st.version = make(map[string]string)
	st.until = make(map[string]RetainEntry)
}

// reset forgets what walks found (the dates and versions stay).
func (st *retainState) reset(r *Repository) {
	st.walker = r.NewWalker()
	st.covered = make(map[string]bool)
	st.packs = make(map[PackID]struct{})
	st.indexPacks = make(map[string][]PackID)
}
