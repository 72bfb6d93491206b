package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"coffer/cipher"
)

// Prefix is where the audit records live in the store. It is part of the
// format.
const Prefix = "audit/"

// seqDigits is the width of a record's zero-padded sequence number: enough
// for any uint64, so keys list in sequence order.
const seqDigits = 20

// Kinds of record. They are part of the format.
const (
	KindInit      = "init"      // the repository was created
	KindGenesis   = "genesis"   // the log starts on a repository that already had snapshots
	KindMount     = "mount"     // a mount started
	KindUnmount   = "unmount"   // a mount ended
	KindCommit    = "commit"    // a snapshot was committed
	KindRetention = "retention" // retention was extended
	KindKeyAdd    = "key-add"   // a key slot was added
	KindKeyRevoke = "key-revoke"
	KindDoctor    = "doctor"     // a doctor run
	KindForget    = "forget"     // a deletion request was written
	KindCancel    = "cancel"     // a deletion request was cancelled
	KindHold      = "hold"       // a hold was placed on snapshots
	KindRelease   = "release"    // a hold was released
	KindPrunePlan = "prune-plan" // prune published what it will remove
	KindPrune     = "prune"      // prune removed objects
)

// Record is one audit record. Append fills Seq, Prev, Time, Source, Host,
// Version and Skipped; the caller sets Kind and the fields of its kind.
type Record struct {
	Seq     uint64    `json:"seq"`
	Prev    string    `json:"prev,omitempty"` // hex AuditMAC of the previous record's sealed bytes; empty on the first
	Time    time.Time `json:"time"`           // the store's clock when written
	Kind    string    `json:"kind"`
	Source  string    `json:"source"` // the writing server's source ID
	Host    string    `json:"host,omitempty"`
	Version string    `json:"version,omitempty"` // coffer's version
	// Skipped names the objects at sequence keys since the previous
	// record that were not valid records (planted junk): writers step over
	// them and say so here.
	Skipped []Skip `json:"skipped,omitempty"`
	// Repaired marks a record written after the fact: a commit record a
	// crash left out, written by the next mount.
	Repaired bool `json:"repaired,omitempty"`

	Mode      string          `json:"mode,omitempty"`      // mount, unmount: "read-write" or "read-only"
	Snapshot  *Commit         `json:"snapshot,omitempty"`  // commit
	Snapshots []string        `json:"snapshots,omitempty"` // genesis: the snapshots already there
	Retention *Extension      `json:"retention,omitempty"` // retention
	Key       *KeyChange      `json:"key,omitempty"`       // key-add, key-revoke
	Doctor    *DoctorRun      `json:"doctor,omitempty"`    // doctor
	Deletion  *DeletionChange `json:"deletion,omitempty"`  // forget, cancel, hold, release
	Prune     *PruneRun       `json:"prune,omitempty"`     // prune-plan, prune
	Note      string          `json:"note,omitempty"`      // free text, for people
}

// Commit describes a committed snapshot.
type Commit struct {
	ID      string    `json:"id"`
	Parent  string    `json:"parent,omitempty"`
	Time    time.Time `json:"time"` // the snapshot's own time
	Files   uint64    `json:"files"`
	Bytes   uint64    `json:"bytes"`
	New     int64     `json:"new_bytes"`       // bytes written to the store for it
	Objects int64     `json:"objects_written"` // objects written to the store for it
	// Started is the store's time when the commit began, before its
	// flush: prune spares the packs a still-running mount of this
	// source uploaded after it. Zero (left out) on older records.
	Started time.Time `json:"started,omitzero"`
}

// Extension describes one retention extension.
type Extension struct {
	Objects int       `json:"objects"`
	Through time.Time `json:"through"`
}

// KeyChange describes a key slot added or revoked.
type KeyChange struct {
	Slot     string `json:"slot"`
	Kind     string `json:"kind,omitempty"`      // "passphrase" or "keyfile"
	SlotHash string `json:"slot_hash,omitempty"` // revocations name the slot by the hash of its bytes
}

// DoctorRun records the outcome of `coffer doctor`.
type DoctorRun struct {
	Passed bool     `json:"passed"`
	Failed []string `json:"failed,omitempty"` // the promises that did not hold
}

// DeletionChange describes a deletion request, cancellation, hold or
// release.
type DeletionChange struct {
	Object    string    `json:"object"`              // the object written: requests/…, cancellations/…, holds/…, releases/…
	Snapshots []string  `json:"snapshots,omitempty"` // the snapshots it names
	Targets   []string  `json:"targets,omitempty"`   // cancel, release: the requests or holds it ends
	Due       time.Time `json:"due,omitzero"`        // forget: when the request matures
}

// PruneRun describes a prune plan published, or what a prune removed.
type PruneRun struct {
	Plan      string   `json:"plan"`                // the plan's key, prune/…
	Snapshots []string `json:"snapshots,omitempty"` // snapshots planned or removed
	Packs     int      `json:"packs"`
	Bytes     int64    `json:"bytes"`
	Indexes   int      `json:"indexes,omitempty"`
	Slots     int      `json:"slots,omitempty"`
	Locked    int      `json:"locked,omitempty"` // objects left for a later prune: still locked
	Note      string   `json:"note,omitempty"`
}

// Skip names one object at a sequence key that was not a valid record.
type Skip struct {
	Seq    uint64 `json:"seq"`
	SHA256 string `json:"sha256"` // of the object's bytes, so it cannot change unseen
	Reason string `json:"reason"`
}

// ErrRecord means an object under audit/ is not a valid record: it does
// not authenticate, or does not parse, or names another sequence number.
var ErrRecord = errors.New("not a valid audit record")

// Key is the object key of the record with sequence number seq.
func Key(seq uint64) string {
	return fmt.Sprintf("%s%0*d", Prefix, seqDigits, seq)
}

// parseKey returns the sequence number a key names, false if it is not a
// sequence key.
func parseKey(key string) (uint64, bool) {
	s, ok := strings.CutPrefix(key, Prefix)
	if !ok || len(s) != seqDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// recordAD binds a record to its repository and sequence key, so records
// cannot be moved, reordered or replayed from another repository. It is
// the format's objectAD with kind "audit".
func recordAD(repoID []byte, key string) []byte {
	ad := make([]byte, 0, 32+len(repoID)+len(key))
	ad = append(ad, "coffer-object"...)
	ad = append(ad, 1) // format version
	ad = append(ad, repoID...)
	ad = append(ad, "audit"...)
	ad = append(ad, 0)
	ad = append(ad, key...)
	return ad
}

// seal returns the sealed bytes of rec at its key.
func seal(keys *cipher.Keys, repoID []byte, rec *Record) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return keys.Audit().Seal(nil, plain, recordAD(repoID, Key(rec.Seq))), nil
}

// open authenticates and parses the object at the key of seq.
func open(keys *cipher.Keys, repoID []byte, seq uint64, sealed []byte) (*Record, error) {
	plain, err := keys.Audit().Open(nil, sealed, recordAD(repoID, Key(seq)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	rec := &Record{}
	if err := json.Unmarshal(plain, rec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if rec.Seq != seq {
		return nil, fmt.Errorf("%w: it says it is record %d", ErrRecord, rec.Seq)
	}
	return rec, nil
}

// link is the chain value a record's successor carries in Prev.
func link(keys *cipher.Keys, sealed []byte) string {
	if sealed == nil {
		return ""
	}
	m := keys.AuditMAC(sealed)
	return hex.EncodeToString(m[:])
}

// skipOf describes junk found at seq.
func skipOf(seq uint64, data []byte, why error) Skip {
	sum := sha256.Sum256(data)
	return Skip{Seq: seq, SHA256: hex.EncodeToString(sum[:]), Reason: why.Error()}
}
