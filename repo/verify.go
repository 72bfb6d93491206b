package repo

import (
	"context"
	"errors"
	"fmt"

	"coffer/cipher"
)

// ErrForged: a block's stored bytes authenticate under the repository's
// key, but their keyed MAC is not the block's ID, so they are not the
// block. Only a holder of the key can make such bytes. Errors wrapping it
// wrap ErrCorrupt too.
var ErrForged = errors.New("block contents do not match the block's ID: forged by a holder of the key")

// BadLocation is one place an index names for a block where a read found
// other bytes: contents that fail authentication or whose keyed MAC is
// not the block's ID, a wrong type, or a pack that is missing or too
// short. The read went on to the block's other locations, if any. Each is
// listed once, in the order met, and was logged when met.
type BadLocation struct {
	Block cipher.ID
	Pack  PackID
	Off   uint32
	Len   uint32
	// Index is the key of the index object that named the location; ""
	// when this process learnt it (a pack it wrote, or a pack trailer read
	// to rebuild the index).
	Index string
	// Forged: the bytes authenticate under the key but are not the
	// block's. Bit rot or a third party cannot do that: it is tampering
	// by a holder of the key.
	Forged bool
	Reason string // the read's error, one line
}

// String renders the bad location as one line for logs and warnings.
func (b BadLocation) String() string {
	idx := b.Index
	if idx == "" {
		idx = "(this process)"
	}
	return fmt.Sprintf("block %s at %s+%d (named by %s): %s", b.Block, b.Pack.key(), b.Off, idx, b.Reason)
}

// BadLocations lists the block locations that failed a read since the
// repository was opened (each once). doctor and check report them.
func (r *Repository) BadLocations() []BadLocation { return r.bad.list() }

// badLog collects bad locations once each.
type badLog = onceLog[indexEntry, BadLocation]

// reportBad records that block id's bytes at loc failed with err (a
// damage error) and logs it the first time.
func (r *Repository) reportBad(id cipher.ID, loc location, err error) {
	key := indexEntry{ID: id, Loc: loc}
	key.Loc.src = srcLocal // the place, wherever it was learnt
	b := BadLocation{
		Block: id, Pack: loc.Pack, Off: loc.Off, Len: loc.Len,
		Index: r.index.sourceName(loc.src), Forged: errors.Is(err, ErrForged), Reason: err.Error(),
	}
	if !r.bad.note(key, b) {
		return
	}
	msg := "block location failed verification: damaged, or planted by someone"
	if b.Forged {
		msg = "TAMPERING: a block location holds forged contents sealed with the repository's key"
	}
	r.log.Error(msg, "block", id.String(), "pack", loc.Pack.String(), "offset", loc.Off,
		"index", b.Index, "err", err)
}

// openVerified opens sealed as block id of type t and checks that the keyed
// MAC of the plaintext is id: authentication proves the bytes were sealed
// with the key for this ID, the MAC that they are the block's contents.
// It decrypts in place (the plaintext overwrites the ciphertext, an exact
// overlap GCM allows), saving a copy per block, so sealed is consumed.
func (r *Repository) openVerified(sealed []byte, t BlockType, id cipher.ID) ([]byte, error) {
	plain, err := r.keys.Contents().Open(sealed[cipher.NonceSize:cipher.NonceSize], sealed, blockAD(r.id, t, id))
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", id, err)
	}
	if r.skipIDCheck {
		return plain, nil
	}
	if r.keys.BlockID(plain) != id {
		return nil, fmt.Errorf("block %s: %w: %w", id, ErrCorrupt, ErrForged)
	}
	return plain, nil
}

// CheckDuplicates reads and verifies every location of each block that
// the indexes name at more than one place. coffer stores a block once, so
// these are nearly always none, and a copy of a stored block that a
// holder of the key forged is one of them: doctor and check find it here
// without a read through a file. Failures are reported like a read's
// (BadLocations); it returns how many locations it read, and an error
// only when the store fails.
func (r *Repository) CheckDuplicates(ctx context.Context) (int, error) {
	type dup struct {
		id   cipher.ID
		locs []location
	}
	var dups []dup
	r.index.mu.RLock()
	for id, more := range r.index.more {
		dups = append(dups, dup{id, append([]location{r.index.blocks[id]}, more...)})
	}
	r.index.mu.RUnlock()
	read := 0
	for _, d := range dups {
		for _, loc := range d.locs {
			_, err := r.readLocation(ctx, loc.Type, d.id, loc, true)
			if err != nil && r.retryAtFirst(ctx, loc.Pack, err) {
				_, err = r.readLocation(ctx, loc.Type, d.id, loc, true)
			}
			if err != nil && !isDamage(err) {
				return read, err
			}
			read++
			if err != nil {
				r.reportBad(d.id, loc, err)
				r.index.demote(d.id, loc)
			}
		}
	}
	return read, nil
}
