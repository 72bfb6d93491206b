package repo

import (
	"context"
	"fmt"
	"time"

	"coffer/objectstore"
)

// Kinds of Tamper.
const (
	// TamperLaterVersion: a version of a key after its first (coffer
	// never overwrites, so it is not coffer's).
	TamperLaterVersion = "later version"
	// TamperDeleteMarker: a delete marker on a key (coffer never deletes
	// without a version ID).
	TamperDeleteMarker = "delete marker"
)

// Tamper is one later version or delete marker found on a key coffer
// reads. coffer ignores it (it reads the key's first version) and reports
// it: it was put there by someone holding write access to the store.
type Tamper struct {
	Key       string
	VersionID string
	Kind      string    // TamperLaterVersion or TamperDeleteMarker
	Modified  time.Time // the store's upload time of that version or marker
}

// String renders the tampering as one line for logs and warnings.
func (t Tamper) String() string {
	return t.Key + ": " + t.Kind + " " + t.VersionID + " of " + t.Modified.UTC().Format(time.RFC3339) +
		" ignored (not written by coffer; the first version is read)"
}

// tamperLog collects the tampering met, once per version (keyed by key +
// "\x00" + version ID).
type tamperLog = onceLog[string, Tamper]

// report records a version or marker that is not coffer's and logs it
// the first time it is met.
func (f *firstVersions) report(v objectstore.Version, kind string) {
	t := Tamper{Key: v.Key, VersionID: v.VersionID, Kind: kind, Modified: v.Modified}
	if f.tamp.note(t.Key+"\x00"+t.VersionID, t) {
		f.log.Warn("tampering: ignored an object version coffer did not write", "object", v.Key,
			"kind", kind, "version", v.VersionID, "uploaded", t.Modified.UTC().Format(time.RFC3339))
	}
}

// Tampering lists the later versions and delete markers met on the keys
// this repository read since it was opened (each once), in the order
// met. Every listing of metadata (config, key slots, indexes, snapshots)
// meets all of its prefix's; packs are checked when a read fails.
// Commands show them as warnings; doctor and audit report them.
func (r *Repository) Tampering() []Tamper { return r.fv.tamp.list() }

// TamperPrefixes are the prefixes ScanTampering lists by default: every
// object coffer writes (the audit log's included).
var TamperPrefixes = []string{configKey, keysPrefix, revocationsPrefix, dataPrefix, indexPrefix, snapshotPrefix, "audit/"}

// ScanTampering lists the versions under each of prefixes (TamperPrefixes
// if none), one version listing each, so its cost follows the number of
// objects, packs included; it returns every later version and delete
// marker found, with those met before. It is for doctor and audit: reads
// meet only the tampering on what they read.
func (r *Repository) ScanTampering(ctx context.Context, prefixes ...string) ([]Tamper, error) {
	if len(prefixes) == 0 {
		prefixes = TamperPrefixes
	}
	for _, p := range prefixes {
		if err := r.fv.listFirst(ctx, p, func(objectstore.Version) error { return nil }); err != nil {
			return nil, fmt.Errorf("list the versions under %q: %w", p, err)
		}
	}
	return r.Tampering(), nil
}
