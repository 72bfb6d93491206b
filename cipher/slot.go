package cipher

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Slot kinds, as stored in a slot's "kind" field.
const (
	// KindPassphrase marks a slot wrapped under a passphrase via argon2id.
	KindPassphrase = "passphrase"
	// KindKeyFile marks a slot wrapped under the 32-byte key of a key file.
	KindKeyFile = "keyfile"
)

// slotVersion is the only slot format version this package reads and
// writes.
const slotVersion = 1

// slotSaltSize is the size of a slot's random salt.
const slotSaltSize = 32

// kdfAlgArgon2id names the one passphrase KDF in the slot JSON.
const kdfAlgArgon2id = "argon2id"

// Slot is one wrapped copy of a master key: the master key sealed under a
// key-encryption key derived from a passphrase or a key file. A
// repository may hold several slots for one master key, so a passphrase
// can change, or a key file be added, without touching any data. A Slot
// is immutable; it is made by [WrapPassphrase], [WrapKeyFile] or
// [ParseSlot].
type Slot struct {
	kind    string
	kdf     KDFParams // zero for KindKeyFile
	salt    []byte    // slotSaltSize bytes
	nonce   []byte    // NonceSize bytes
	wrapped []byte    // KeySize + TagSize bytes: sealed master key
}

// slotJSON is the serialised form of a Slot.
type slotJSON struct {
	Version int      `json:"version"`
	Kind    string   `json:"kind"`
	KDF     *kdfJSON `json:"kdf,omitempty"`
	Salt    []byte   `json:"salt"`
	Nonce   []byte   `json:"nonce"`
	Wrapped []byte   `json:"wrapped"`
}

// kdfJSON is the "kdf" object of a passphrase slot.
type kdfJSON struct {
	Alg string `json:"alg"`
	KDFParams
}

// WrapPassphrase returns a new slot holding mk wrapped under passphrase,
// stretched with argon2id at cost p. It takes as long as one Unwrap.
// It fails with [ErrParams] for an empty passphrase or parameters outside
// the accepted bounds (at least 8 MiB of memory).
func WrapPassphrase(mk MasterKey, passphrase []byte, p KDFParams) (*Slot, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%w: empty passphrase", ErrParams)
	}
	if err := p.validateNew(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	salt, nonce, err := slotRandom()
	if err != nil {
		return nil, err
	}
	return wrapPassphrase(mk, passphrase, p, salt, nonce), nil
}

// wrapPassphrase builds a passphrase slot from given salt and nonce,
// without checking p against the floor, so tests can make cheap and
// reproducible slots.
func wrapPassphrase(mk MasterKey, passphrase []byte, p KDFParams, salt, nonce []byte) *Slot {
	s := &Slot{kind: KindPassphrase, kdf: p, salt: salt, nonce: nonce}
	s.seal(mk, passphraseKEK(passphrase, salt, p))
	return s
}

// WrapKeyFile returns a new slot holding mk wrapped under fileKey, the 32
// bytes returned by [ReadKeyFile]. It fails with [ErrParams] if fileKey is
// not 32 bytes long.
func WrapKeyFile(mk MasterKey, fileKey []byte) (*Slot, error) {
	if len(fileKey) != KeySize {
		return nil, fmt.Errorf("%w: key-file key must be %d bytes, got %d", ErrParams, KeySize, len(fileKey))
	}
	salt, nonce, err := slotRandom()
	if err != nil {
		return nil, err
	}
	return wrapKeyFile(mk, fileKey, salt, nonce), nil
}

// wrapKeyFile builds a key-file slot from given salt and nonce.
func wrapKeyFile(mk MasterKey, fileKey, salt, nonce []byte) *Slot {
	s := &Slot{kind: KindKeyFile, salt: salt, nonce: nonce}
	s.seal(mk, keyFileKEK(fileKey, salt))
	return s
}

// slotRandom returns a fresh salt and nonce for a new slot.
func slotRandom() (salt, nonce []byte, err error) {
	buf := make([]byte, slotSaltSize+NonceSize)
	if _, err := rand.Read(buf); err != nil {
		return nil, nil, fmt.Errorf("cipher: reading random slot salt: %w", err)
	}
	return buf[:slotSaltSize:slotSaltSize], buf[slotSaltSize:], nil
}

// seal fills s.wrapped with mk sealed under kek, using s.nonce and the
// slot's associated data.
func (s *Slot) seal(mk MasterKey, kek [KeySize]byte) {
	sealed := NewSealer(kek).sealWithNonce(nil, s.nonce, mk[:], s.associatedData())
	s.wrapped = sealed[NonceSize:]
}

// associatedData binds the wrapped key to everything else in the slot:
// version, kind, KDF parameters and salt. Changing any of them, for
// example lowering the argon2 cost in the stored JSON, fails
// authentication. Layout:
//
//	"coffer/v1 slot" 0x00 | version u8 | len(kind) u8 | kind |
//	t u32 BE | m u32 BE | p u8 | len(salt) u8 | salt
func (s *Slot) associatedData() []byte {
	ad := make([]byte, 0, 64+len(s.kind)+len(s.salt))
	ad = append(ad, "coffer/v1 slot\x00"...)
	ad = append(ad, slotVersion, byte(len(s.kind)))
	ad = append(ad, s.kind...)
	ad = binary.BigEndian.AppendUint32(ad, s.kdf.Time)
	ad = binary.BigEndian.AppendUint32(ad, s.kdf.MemoryKiB)
	ad = append(ad, s.kdf.Threads, byte(len(s.salt)))
	return append(ad, s.salt...)
}

// Kind returns the slot's kind: [KindPassphrase] or [KindKeyFile].
func (s *Slot) Kind() string { return s.kind }

// KDF returns the argon2id parameters of a passphrase slot, and the zero
// value for a key-file slot.
func (s *Slot) KDF() KDFParams { return s.kdf }

// Unwrap recovers the master key from the slot. secret is the passphrase
// for a passphrase slot and the 32-byte key from [ReadKeyFile] for a
// key-file slot. A wrong secret, or a slot modified in any field, fails
// with [ErrAuth]. A passphrase slot costs one argon2id run.
func (s *Slot) Unwrap(secret []byte) (MasterKey, error) {
	var kek [KeySize]byte
	switch s.kind {
	case KindPassphrase:
		if err := s.kdf.validate(); err != nil {
			return MasterKey{}, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		kek = passphraseKEK(secret, s.salt, s.kdf)
	case KindKeyFile:
		if len(secret) != KeySize {
			return MasterKey{}, fmt.Errorf("%w: key-file key must be %d bytes", ErrAuth, KeySize)
		}
		kek = keyFileKEK(secret, s.salt)
	default:
		return MasterKey{}, fmt.Errorf("%w: unknown slot kind", ErrFormat)
	}
	if len(s.nonce) != NonceSize || len(s.wrapped) != KeySize+TagSize {
		return MasterKey{}, fmt.Errorf("%w: slot nonce or wrapped key has the wrong size", ErrFormat)
	}
	sealed := make([]byte, 0, NonceSize+len(s.wrapped))
	sealed = append(append(sealed, s.nonce...), s.wrapped...)
	pt, err := NewSealer(kek).Open(nil, sealed, s.associatedData())
	if err != nil {
		return MasterKey{}, err
	}
	var mk MasterKey
	copy(mk[:], pt)
	return mk, nil
}

// Marshal returns the slot as compact JSON, the form [ParseSlot] reads.
func (s *Slot) Marshal() ([]byte, error) {
	j := slotJSON{Version: slotVersion, Kind: s.kind, Salt: s.salt, Nonce: s.nonce, Wrapped: s.wrapped}
	if s.kind == KindPassphrase {
		j.KDF = &kdfJSON{Alg: kdfAlgArgon2id, KDFParams: s.kdf}
	}
	out, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("cipher: encoding slot: %w", err)
	}
	return out, nil
}

// ParseSlot parses a slot written by [Slot.Marshal]. It fails with
// [ErrFormat] on anything else: bad JSON, unknown fields or version,
// wrong field sizes, or KDF parameters beyond the bounds that keep an
// Unwrap of a hostile slot affordable (at most 100 passes and 4 GiB).
func ParseSlot(data []byte) (*Slot, error) {
	var j slotJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: slot JSON: %v", ErrFormat, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after slot JSON", ErrFormat)
	}
	if j.Version != slotVersion {
		return nil, fmt.Errorf("%w: slot version %d, want %d", ErrFormat, j.Version, slotVersion)
	}
	s := &Slot{kind: j.Kind, salt: j.Salt, nonce: j.Nonce, wrapped: j.Wrapped}
	switch j.Kind {
	case KindPassphrase:
		if j.KDF == nil || j.KDF.Alg != kdfAlgArgon2id {
			return nil, fmt.Errorf("%w: passphrase slot needs kdf.alg %q", ErrFormat, kdfAlgArgon2id)
		}
		if err := j.KDF.KDFParams.validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		s.kdf = j.KDF.KDFParams
	case KindKeyFile:
		if j.KDF != nil {
			return nil, fmt.Errorf("%w: key-file slot must not have kdf", ErrFormat)
		}
	default:
		return nil, fmt.Errorf("%w: unknown slot kind %q", ErrFormat, j.Kind)
	}
	switch {
	case len(s.salt) != slotSaltSize:
		return nil, fmt.Errorf("%w: slot salt must be %d bytes", ErrFormat, slotSaltSize)
	case len(s.nonce) != NonceSize:
		return nil, fmt.Errorf("%w: slot nonce must be %d bytes", ErrFormat, NonceSize)
	case len(s.wrapped) != KeySize+TagSize:
		return nil, fmt.Errorf("%w: slot wrapped key must be %d bytes", ErrFormat, KeySize+TagSize)
	}
	return s, nil
}
