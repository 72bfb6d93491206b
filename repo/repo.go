package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"coffer/cache"
	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
)

// Options tune an open repository. Zero values pick the defaults.
type Options struct {
	Logger     *slog.Logger
	Clock      func() time.Time
	CacheBytes int64 // in-memory block cache; default 64 MiB
	PackSize   int   // target pack size; default 16 MiB
	Uploads    int   // packs uploaded in parallel; default 3
	Workers    int   // blocks hashed and sealed in parallel; default GOMAXPROCS-1, at least 1
	// SealedCache, if set, keeps sealed blocks fetched from the store on
	// local disk (ciphertext only), so reading them again costs no request.
	SealedCache SealedCache
	// TailBudget bounds the bytes all open files may hold in their
	// unfinished chunks; past it a file cuts its chunk early. Default 64 MiB.
	TailBudget int64
	// HoldWriters bounds how long a writer is held back while uploads
	// fail and the upload queue is full; then it gets the store's error
	// (EIO to the process). Default 3 minutes.
	HoldWriters time.Duration
	// RetryWait bounds how long Flush (fsync, a snapshot) waits for
	// failing uploads before it reports the outage; they go on being
	// retried in the background. Default 15 seconds.
	RetryWait time.Duration
	// MaxBackoff caps the wait between retries of a failing upload,
	// which doubles from 100 ms. Default 5 seconds.
	MaxBackoff time.Duration
	// IgnoreRevocations opens the repository with a key slot even if a
	// revocation names it: the way out when revocations, which anyone
	// holding the key can write, revoke the slots the owner uses.
	IgnoreRevocations bool
	// RetainCache, if set, remembers the retain-until dates retention
	// set across processes (see RetainCache), so a restart extends only
	// what is due. A repository without retention never uses it.
	RetainCache RetainCache
	// Fetches bounds the ranged GETs FetchBlocks runs at once; default 8.
	Fetches int
	// FetchBytes bounds the bytes FetchBlocks holds at once, read but
	// not yet handed on; default 64 MiB.
	FetchBytes int64
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	if o.PackSize == 0 {
		o.PackSize = 16 << 20
	}
	if o.Uploads == 0 {
		o.Uploads = 3
	}
	if o.Workers == 0 {
		// One processor fewer than Go has: a worker runs a whole
		// block without blocking, so as many workers as processors
		// keep the writer's own goroutines (the FUSE handler, the
		// chunker) waiting for a turn, and the workers then starve.
		o.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if o.TailBudget == 0 {
		o.TailBudget = 64 << 20
	}
	if o.HoldWriters == 0 {
		o.HoldWriters = 3 * time.Minute
	}
	if o.RetryWait == 0 {
		o.RetryWait = 15 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Fetches == 0 {
		o.Fetches = 8
	}
	if o.FetchBytes == 0 {
		o.FetchBytes = 64 << 20
	}
}

// SealedCache stores sealed (encrypted) blocks by name. Failures to store
// are not errors: it is only a cache.
type SealedCache interface {
	Get(key string) ([]byte, bool)
	Put(key string, data []byte) error
	// Remove drops key's blob: reads evict one that fails verification.
	Remove(key string)
}

// Repository is an open, unlocked repository: the store, the keys, the
// index of every block, and the write pipeline.
type Repository struct {
	store  objectstore.Store // fv: every key read at its first version
	fv     *firstVersions
	id     []byte
	master cipher.MasterKey
	slotID string
	keys   *cipher.Keys
	params params
	chunks *chunker.Table // of keys and params
	opts   Options
	log    *slog.Logger

	index     *index
	packer    *packer
	blocks    *cache.BlockCache[cipher.ID]
	jobs      chan func()
	tail      atomic.Int64 // bytes held in open files' unfinished chunks
	chunkBufs *freeList    // buffers for one chunk (cap Chunker.Max)
	writeBufs *freeList    // buffers for one queued FUSE write
	packBufs  *freeList    // buffers for one pack
	stop      sync.Once
	bg        context.Context    // background uploads; ends at Close
	cancelBg  context.CancelFunc // ends bg

	snapMu sync.Mutex
	snaps  map[string]*Snapshot // guarded by snapMu; decrypted snapshots by ID

	damage damageLog // objects skipped as damaged or foreign
	bad    badLog    // block locations that failed a read
	count  counters  // running totals for metrics (counters.go)

	// skipIDCheck turns off the check that a block's contents match
	// its ID; only the benchmark that measures the check sets it.
	skipIDCheck bool

	retain retainState // what keeps retention ahead of snapshots (retain.go)
	guard  guardState  // what a running daemon relies on, kept from prune (guard.go)
	marks  sync.Map    // deletion object key → *mark opened: each is put once, so it stays true (deletion.go)
}

// Open unlocks the repository in st with secret and loads its index.
func Open(ctx context.Context, st objectstore.Store, secret Secret, o Options) (*Repository, error) {
	o.defaults()
	fv := newFirstVersions(st, o.Logger)
	cfg, err := readConfig(ctx, fv)
	if err != nil {
		return nil, err
	}
	mk, slotID, err := unlockSlot(ctx, fv, secret, cfg.ID, o.IgnoreRevocations, o.Logger)
	if err != nil {
		return nil, err
	}
	keys := cipher.DeriveKeys(mk, cfg.ID)
	p, err := openParams(keys, cfg)
	if err != nil {
		return nil, err
	}
	r := &Repository{
		store: fv, fv: fv, id: cfg.ID, master: mk, slotID: slotID, keys: keys, params: p,
		chunks: chunker.NewTable(keys.ChunkerSeed(), p.Chunker),
		opts:   o, log: o.Logger,
		index:  newIndex(),
		blocks: cache.NewBlockCache[cipher.ID](o.CacheBytes),
		jobs:   make(chan func(), 2*o.Workers),
		snaps:  make(map[string]*Snapshot),
	}
	r.chunkBufs = newFreeList(2*o.Workers+4, p.Chunker.Max)
	r.writeBufs = newFreeList(8, writeBufSize)
	r.packBufs = newPackFreeList(packBuffers(o), o.PackSize+maxBlockOverrun)
	r.bg, r.cancelBg = context.WithCancel(context.Background())
	r.packer = newPacker(r)
	if err := r.loadIndex(ctx); err != nil {
		return nil, err
	}
	for i := 0; i < o.Workers; i++ {
		go r.worker()
	}
	return r, nil
}

// Close stops the worker goroutines and the retries of failing uploads.
// Call Flush and commit first; Close itself writes nothing.
func (r *Repository) Close() {
	r.stop.Do(func() {
		close(r.jobs)
		r.cancelBg()
		r.packer.mu.Lock()
		r.packer.cond.Broadcast() // waiting flushes and writers see it
		if r.packer.idle != nil {
			r.packer.idle.Stop() // nothing to trim for any more
		}
		r.packer.mu.Unlock()
	})
}

func (r *Repository) worker() {
	for job := range r.jobs {
		job()
	}
}

// ID is the repository's random 16-byte identity.
func (r *Repository) ID() []byte { return r.id }

// retention is the retention new objects get now.
func (r *Repository) retention() objectstore.Retention {
	return retention(r.params.Retention, r.storeTime())
}

// Flush makes every block saved so far durable in the store and records
// their locations in an index object.
func (r *Repository) Flush(ctx context.Context) error {
	if err := r.packer.flush(ctx); err != nil {
		return err
	}
	return r.saveIndex(ctx)
}

// ReadBlock returns the plaintext of block id, which must be of type t.
func (r *Repository) ReadBlock(ctx context.Context, t BlockType, id cipher.ID) ([]byte, error) {
	return r.blocks.Get(ctx, id, func(ctx context.Context) ([]byte, error) {
		return r.fetchBlock(ctx, t, id)
	})
}

// Prefetch starts loading block id into the cache in the background.
func (r *Repository) Prefetch(ctx context.Context, t BlockType, id cipher.ID) {
	if r.blocks.Contains(id) {
		return
	}
	go func() {
		if _, err := r.ReadBlock(context.WithoutCancel(ctx), t, id); err != nil {
			r.log.Debug("prefetch failed", "block", id.String(), "err", err)
		}
	}()
}

// fetchBlock returns block id's plaintext, verified: it opens under the
// key and its keyed MAC is id. It tries the copy still in a pending pack,
// then each location the indexes name, oldest index first. A location
// whose bytes fail is reported (BadLocations), moved behind the others,
// and the next one is tried; a store that fails (an outage, a refusal, a
// cancelled caller) is returned at once, since no location is at fault.
func (r *Repository) fetchBlock(ctx context.Context, t BlockType, id cipher.ID) ([]byte, error) {
	sealed, loc, err := r.packer.pending(id)
	if err != nil {
		return nil, err
	}
	var errs []error
	if sealed != nil {
		if loc.Type != t {
			err = typeMismatch(id, loc, t)
		} else if plain, err2 := r.openVerified(sealed, t, id); err2 != nil {
			err = err2
		} else {
			return plain, nil
		}
		r.reportBad(id, loc, err)
		errs = append(errs, err)
	}
	locs := r.index.locations(id)
	if len(locs) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("block %s: %w", id, ErrMissingBlock)
	}
	for _, loc := range locs {
		plain, err := r.readLocation(ctx, t, id, loc, false)
		if err != nil && r.retryAtFirst(ctx, loc.Pack, err) {
			plain, err = r.readLocation(ctx, t, id, loc, true)
		}
		if err == nil {
			if len(errs) > 0 {
				r.log.Warn("block read from another location", "block", id.String(), "pack", loc.Pack.String(),
					"index", r.index.sourceName(loc.src), "failed_before", len(errs))
			}
			return plain, nil
		}
		if !isDamage(err) {
			return nil, err
		}
		r.reportBad(id, loc, err)
		r.index.demote(id, loc)
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("block %s: all %d locations failed: %w", id, len(errs), errors.Join(errs...))
}

func typeMismatch(id cipher.ID, loc location, t BlockType) error {
	return fmt.Errorf("block %s in pack %s: %w: stored as type %d, wanted %d", id, loc.Pack, ErrCorrupt, loc.Type, t)
}

// readLocation reads block id at loc, from the disk cache (unless
// fresh) or the store, and verifies it (openVerified). A cached copy that
// fails is evicted and the store read instead; only verified ciphertext
// is cached.
func (r *Repository) readLocation(ctx context.Context, t BlockType, id cipher.ID, loc location, fresh bool) ([]byte, error) {
	if loc.Type != t {
		return nil, typeMismatch(id, loc, t)
	}
	if !fresh {
		if plain, ok := r.readSealedCache(t, id, loc); ok {
			return plain, nil
		}
	}
	sealed, err := r.fetchSealed(ctx, id, loc)
	if err != nil {
		return nil, err
	}
	return r.openFetched(sealed, t, id, loc, true)
}

// readSealedCache returns block id's plaintext from the disk cache if a
// copy of loc's length is there and verifies; a copy that fails is
// evicted.
func (r *Repository) readSealedCache(t BlockType, id cipher.ID, loc location) ([]byte, bool) {
	c := r.opts.SealedCache
	if c == nil {
		return nil, false
	}
	name := id.String()
	sealed, ok := c.Get(name)
	if !ok || len(sealed) != int(loc.Len) {
		return nil, false
	}
	plain, err := r.openVerified(sealed, t, id)
	if err != nil {
		c.Remove(name)
		r.log.Warn("block cache on disk: a cached block failed verification, evicted", "block", name, "err", err)
		return nil, false
	}
	return plain, true
}

// openFetched verifies sealed, block id's bytes just read from loc in the
// store (openVerified, which consumes sealed), and if keep, stores a copy
// in the disk cache once they verify.
func (r *Repository) openFetched(sealed []byte, t BlockType, id cipher.ID, loc location, keep bool) ([]byte, error) {
	c := r.opts.SealedCache
	if !keep {
		c = nil
	}
	var kept []byte
	if c != nil {
		kept = bytes.Clone(sealed)
	}
	plain, err := r.openVerified(sealed, t, id)
	if err != nil {
		return nil, fmt.Errorf("%w (pack %s)", err, loc.Pack)
	}
	if c != nil {
		if err := c.Put(id.String(), kept); err != nil {
			r.log.Warn("block cache on disk: not stored", "err", err)
		}
	}
	return plain, nil
}

// fetchSealed reads the sealed block id at loc from its pack.
func (r *Repository) fetchSealed(ctx context.Context, id cipher.ID, loc location) ([]byte, error) {
	sealed, err := r.store.GetRange(ctx, loc.Pack.key(), int64(loc.Off), int64(loc.Len))
	if err != nil {
		return nil, fmt.Errorf("block %s in pack %s: %w", id, loc.Pack, err)
	}
	return sealed, nil
}
