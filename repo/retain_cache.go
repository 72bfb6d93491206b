package repo

import (
	"encoding/hex"
	"maps"
	"time"
)

// RetainEntry is what retention remembers of one object: the version ID
// of the key's first version (the one coffer keeps locked) and the
// retain-until date coffer set on it.
type RetainEntry struct {
	Version string
	Until   time.Time
}

// RetainCache keeps the retain-until dates across processes, on the
// server's own disk (the daemon's local state), so a restarted daemon
// extends only what is due instead of every needed object once.
//
// Why it may be trusted when the store's sealed records may not: it is
// on the server. Whoever can change it can also stop the daemon, or
// change its binary, and so stop extensions altogether; trusting it gives
// an intruder no power they lack. A record in the store could be planted
// by any holder of the key, from anywhere. Even so an entry is used only
// while its version ID is the key's first version, which every step
// lists: an entry for a version coffer no longer keeps is ignored.
type RetainCache interface {
	// Load returns the entries last saved for the repository repoID
	// (hex): none if nothing was saved. On an error the repository
	// starts from none (and logs it).
	Load(repoID string) (map[string]RetainEntry, error)
	// Save replaces what Load returns with entries. A failure costs
	// extensions at the next start, never a lapse.
	Save(repoID string, entries map[string]RetainEntry) error
}

// loadRetainCache fills st.until from the cache, if there is one; st.mu
// is held, at the first step.
func (r *Repository) loadRetainCache() {
	st := &r.retain
	if r.opts.RetainCache == nil {
		return
	}
	entries, err := r.opts.RetainCache.Load(hex.EncodeToString(r.id))
	if err != nil {
		r.log.Warn("retention dates not remembered; each needed object is extended once", "err", err)
		return
	}
	for k, e := range entries {
		if e.Version != "" && !e.Until.IsZero() {
			st.until[k] = e
		}
	}
	st.saved = maps.Clone(st.until)
}

// saveRetainCache saves the dates of keys (the objects needed now) if
// they changed since the last save; st.mu is held. Dates of objects no
// longer needed are left out, so the file follows the live repository.
func (r *Repository) saveRetainCache(keys []string) {
	st := &r.retain
	if r.opts.RetainCache == nil {
		return
	}
	m := make(map[string]RetainEntry, len(keys))
	for _, k := range keys {
		if e, ok := st.until[k]; ok && e.Version == st.version[k] {
			m[k] = e
		}
	}
	if maps.EqualFunc(m, st.saved, func(a, b RetainEntry) bool {
		return a.Version == b.Version && a.Until.Equal(b.Until)
	}) {
		return
	}
	if err := r.opts.RetainCache.Save(hex.EncodeToString(r.id), m); err != nil {
		r.log.Warn("retention dates not saved; a restart extends each needed object once", "err", err)
		return
	}
	st.saved = m
}
