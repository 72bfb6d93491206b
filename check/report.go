package check

import (
	"encoding/json"
	"fmt"
	"io"

	"coffer/bytesize"
)

// Kinds of Finding, stable: scripts may match them in --json output.
const (
	KindConfig        = "config"         // the config object is damaged
	KindKeySlot       = "key-slot"       // a key slot or revocation is unreadable, or a revocation not honoured
	KindMissingPack   = "missing-pack"   // an index names a pack the store does not have
	KindShortPack     = "short-pack"     // an index names bytes past a pack's end
	KindUnindexedPack = "unindexed-pack" // a pack no index names
	KindUnusedPacks   = "unused-packs"   // packs no snapshot references
	KindTree          = "tree"           // a snapshot's tree cannot be read
	KindMissingBlock  = "missing-block"  // a file, tree or link table names a block no usable location holds
	KindBadBlock      = "bad-block"      // a block's bytes fail authentication or are not the block
	KindPack          = "pack"           // a pack read whole is damaged (trailer, gone)
	KindAudit         = "audit"          // the audit chain is broken, or holds planted objects
	KindTamper        = "tampering"      // a later version or delete marker on a key coffer reads
	KindDamage        = "damage"         // an object skipped as damaged or not coffer's
	KindDeletion      = "deletion"       // a snapshot with a pending deletion request
)

// Finding is one thing check found: what, which object, what to do.
type Finding struct {
	Kind   string `json:"kind"`
	Object string `json:"object"` // the store key, or snapshot and path, concerned
	What   string `json:"what"`
	Do     string `json:"do,omitempty"` // what to do about it
}

// String renders the finding as one line.
func (f Finding) String() string {
	s := f.Object + ": " + f.What
	if f.Do != "" {
		s += "; " + f.Do
	}
	return s
}

// Report is what a check found and counted.
type Report struct {
	Errors   []Finding `json:"errors"`
	Warnings []Finding `json:"warnings"`

	Snapshots int   `json:"snapshots"`
	Trees     int   `json:"trees"`  // distinct trees walked
	Packs     int   `json:"packs"`  // packs in the store
	Blocks    int   `json:"blocks"` // distinct blocks the indexes locate
	Bytes     int64 `json:"bytes"`  // bytes in packs

	UnusedPacks    int   `json:"unused_packs"` // packs none of whose blocks a snapshot references
	UnusedBytes    int64 `json:"unused_bytes"`
	UnindexedPacks int   `json:"unindexed_packs"`
	UnindexedBytes int64 `json:"unindexed_bytes"`

	AuditRecords int `json:"audit_records"`

	// What --read-data read and verified.
	ReadPacks  int   `json:"read_packs"`
	ReadBlocks int   `json:"read_blocks"`
	ReadBytes  int64 `json:"read_bytes"`
}

// OK reports whether the check found no error (warnings allowed).
func (r *Report) OK() bool { return len(r.Errors) == 0 }

func (r *Report) fail(f Finding) { r.Errors = append(r.Errors, f) }
func (r *Report) warn(f Finding) { r.Warnings = append(r.Warnings, f) }

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one line per finding, errors first, then a summary.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Errors {
		if _, err := fmt.Fprintf(w, "error: %s: %s\n", f.Kind, f); err != nil {
			return err
		}
	}
	for _, f := range r.Warnings {
		if _, err := fmt.Fprintf(w, "warning: %s: %s\n", f.Kind, f); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d snapshots, %d trees, %d packs (%s), %d blocks; unused: %d packs (%s); unindexed: %d packs (%s)\n",
		r.Snapshots, r.Trees, r.Packs, size(r.Bytes), r.Blocks, r.UnusedPacks, size(r.UnusedBytes),
		r.UnindexedPacks, size(r.UnindexedBytes))
	if err == nil && r.ReadPacks > 0 {
		_, err = fmt.Fprintf(w, "read and verified %d packs (%s), %d blocks\n", r.ReadPacks, size(r.ReadBytes), r.ReadBlocks)
	}
	if err == nil {
		verdict := "no errors found"
		if !r.OK() {
			verdict = fmt.Sprintf("%d errors found", len(r.Errors))
		}
		_, err = fmt.Fprintf(w, "%s, %d warnings\n", verdict, len(r.Warnings))
	}
	return err
}

func size(n int64) string { return bytesize.IEC(uint64(max(n, 0))) }
