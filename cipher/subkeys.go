package cipher

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"sync"

	"github.com/zeebo/blake3"
)

// HKDF info labels, one per use of a subkey. They are part of the format:
// changing one changes every key derived from it.
const (
	labelBlockID     = "coffer/v1 block-id"
	labelContents    = "coffer/v1 contents"
	labelMetadata    = "coffer/v1 metadata"
	labelAudit       = "coffer/v1 audit"
	labelAuditMAC    = "coffer/v1 audit-mac"
	labelChunkerSeed = "coffer/v1 chunker-seed"
)

// Keys holds a repository's subkeys, each derived from the master key for
// exactly one use. The master key itself is not kept. Keys is immutable
// and safe for concurrent use.
type Keys struct {
	blockID     [KeySize]byte
	auditMAC    [KeySize]byte
	chunkerSeed [KeySize]byte
	contents    *Sealer
	metadata    *Sealer
	audit       *Sealer

	// idHashers holds keyed BLAKE3 hashers, reset, ready for BlockID.
	// A hasher carries an 8 KiB buffer, so reusing them matters for small
	// blocks. Only New (set once in DeriveKeys) is shared state.
	idHashers sync.Pool
}

// DeriveKeys derives the subkeys of the repository identified by repoID
// from its master key, with HKDF-SHA256 (RFC 5869): the master key is the
// input keying material, repoID the salt, and each use has its own info
// label. The same master key therefore yields unrelated subkeys in
// different repositories.
func DeriveKeys(mk MasterKey, repoID []byte) *Keys {
	k := &Keys{
		blockID:     deriveSubkey(mk, repoID, labelBlockID),
		auditMAC:    deriveSubkey(mk, repoID, labelAuditMAC),
		chunkerSeed: deriveSubkey(mk, repoID, labelChunkerSeed),
	}
	k.idHashers.New = func() any {
		h, err := blake3.NewKeyed(k.blockID[:])
		if err != nil {
			// NewKeyed fails only for a key that is not 32 bytes long.
			panic("cipher: blake3.NewKeyed rejected a 32-byte key: " + err.Error())
		}
		return h
	}
	k.contents = NewSealer(deriveSubkey(mk, repoID, labelContents))
	k.metadata = NewSealer(deriveSubkey(mk, repoID, labelMetadata))
	k.audit = NewSealer(deriveSubkey(mk, repoID, labelAudit))
	return k
}

// deriveSubkey returns HKDF-SHA256(ikm = mk, salt = repoID, info = label)
// truncated to KeySize bytes.
func deriveSubkey(mk MasterKey, repoID []byte, label string) [KeySize]byte {
	out, err := hkdf.Key(sha256.New, mk[:], repoID, label, KeySize)
	if err != nil {
		// hkdf.Key fails only when asked for more than 255 hash blocks
		// or, in FIPS mode, for short keys; neither applies to 32 bytes
		// from a 32-byte key.
		panic("cipher: HKDF-SHA256 refused to derive a 32-byte key: " + err.Error())
	}
	var k [KeySize]byte
	copy(k[:], out)
	return k
}

// BlockID returns the identity of a block with this plaintext: keyed
// BLAKE3 (BLAKE3 in keyed-hash mode) under the block-ID subkey. Keyed
// BLAKE3 was chosen over HMAC-SHA256 because it measured faster on the
// reference machine; docs/FORMAT.md records the numbers.
func (k *Keys) BlockID(plaintext []byte) ID {
	h := k.idHashers.Get().(*blake3.Hasher)
	_, _ = h.Write(plaintext) // a hash's Write never fails
	var id ID
	h.Sum(id[:0])
	h.Reset() // Reset keeps the key: the hasher is keyed again
	k.idHashers.Put(h)
	return id
}

// Contents returns the Sealer for file-content and tree blocks.
func (k *Keys) Contents() *Sealer { return k.contents }

// Metadata returns the Sealer for snapshots, indexes and other repository
// metadata.
func (k *Keys) Metadata() *Sealer { return k.metadata }

// Audit returns the Sealer for audit records.
func (k *Keys) Audit() *Sealer { return k.audit }

// AuditMAC returns HMAC-SHA256 of data under the audit-MAC subkey, for
// chaining audit records: each record carries the MAC of its predecessor,
// which only a holder of the master key can compute.
func (k *Keys) AuditMAC(data []byte) [32]byte {
	m := hmac.New(sha256.New, k.auditMAC[:])
	_, _ = m.Write(data) // a hash's Write never fails
	var sum [32]byte
	m.Sum(sum[:0])
	return sum
}

// ChunkerSeed returns the secret seed for the content-defined chunker's
// gear table, so chunk boundaries, and hence block sizes, do not reveal
// which known file was stored.
func (k *Keys) ChunkerSeed() [32]byte { return k.chunkerSeed }
