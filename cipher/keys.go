package cipher

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of the master key and of every subkey.
const KeySize = 32

// NonceSize is the size in bytes of the random nonce that starts every
// sealed blob.
const NonceSize = 24

// TagSize is the size in bytes of the GCM authentication tag that ends
// every sealed blob.
const TagSize = 16

// Overhead is how many bytes Seal adds to a plaintext: a 24-byte nonce in
// front and a 16-byte GCM tag behind.
const Overhead = NonceSize + TagSize

// IDSize is the size in bytes of a block identity.
const IDSize = 32

var (
	// ErrAuth reports that authentication failed: a wrong key, passphrase
	// or key file, or data that was modified, truncated or moved.
	ErrAuth = errors.New("cipher: authentication failed")

	// ErrFormat reports input that cannot be parsed at all: a malformed
	// slot, key file, block ID or sealed blob too short to hold a nonce and
	// tag.
	ErrFormat = errors.New("cipher: malformed input")

	// ErrKeyFilePerm reports a key file that group or other users can
	// access; it is refused until its mode is 0600 or stricter.
	ErrKeyFilePerm = errors.New("cipher: key file is accessible by group or other users")

	// ErrParams reports an argument a caller chose badly: KDF parameters
	// out of bounds, an empty passphrase, a key-file key of the wrong size.
	ErrParams = errors.New("cipher: invalid parameters")
)

// MasterKey is the root secret of a repository. It never leaves the
// machine unwrapped.
type MasterKey [KeySize]byte

// NewMasterKey returns a fresh master key from the operating system's
// cryptographically secure random source.
func NewMasterKey() (MasterKey, error) {
	var mk MasterKey
	if _, err := rand.Read(mk[:]); err != nil {
		return MasterKey{}, fmt.Errorf("cipher: reading random master key: %w", err)
	}
	return mk, nil
}

// ID is the identity of a block: a keyed MAC of its plaintext under the
// repository's block-ID subkey. Equal plaintexts in one repository have
// equal IDs; without the key, an ID reveals nothing about the plaintext.
type ID [IDSize]byte

// String returns the ID as 64 lowercase hexadecimal digits.
func (id ID) String() string {
	return hex.EncodeToString(id[:])
}

// IsZero reports whether id is the all-zero ID, which no block has in
// practice and which callers may use as "none".
func (id ID) IsZero() bool {
	return id == ID{}
}

// MarshalText encodes the ID as in [ID.String], so IDs appear as hex in
// JSON.
func (id ID) MarshalText() ([]byte, error) {
	return []byte(id.String()), nil
}

// UnmarshalText decodes an ID written by [ID.MarshalText]; it fails with
// [ErrFormat] as [ParseID] does.
func (id *ID) UnmarshalText(text []byte) error {
	parsed, err := ParseID(string(text))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseID parses the 64 hexadecimal digits written by [ID.String]; upper
// case is accepted. Anything else fails with [ErrFormat].
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return ID{}, fmt.Errorf("%w: block ID must be %d hex digits, got %d characters", ErrFormat, 2*IDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("%w: block ID is not hexadecimal", ErrFormat)
	}
	return id, nil
}
