package cipher

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the argon2id cost parameters of a passphrase slot. They are
// stored in the slot, so a slot made on one machine opens on another with
// the cost it was made with.
type KDFParams struct {
	// Time is the number of passes over memory (argon2 t).
	Time uint32 `json:"t"`
	// MemoryKiB is the memory used, in KiB (argon2 m).
	MemoryKiB uint32 `json:"m"`
	// Threads is the degree of parallelism (argon2 p); it changes the
	// result, not only the speed.
	Threads uint8 `json:"p"`
}

// Bounds on KDF parameters. The upper bounds stop a forged or corrupted
// slot in the bucket from making Unwrap run for hours or exhaust memory;
// the lower bounds stop a caller from choosing a cost that protects
// nothing. Tests use parameters below the floor through wrapPassphrase.
const (
	maxKDFTime      = 100
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
	minKDFMemoryKiB = 8 << 10 // 8 MiB, far below the default
)

// DefaultKDFParams returns the argon2id cost coffer uses for new
// passphrase slots: 3 passes over 128 MiB with 2 lanes. Every passphrase
// unlock pays it once. On the 2-core reference machine, with nothing else
// running, it takes about 0.45 s of wall time (3 passes over 256 MiB with
// 4 lanes took 1.9 s, over the 1 s a user should wait); docs/FORMAT.md
// has the measurements and BenchmarkDefaultKDF repeats them.
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 128 << 10, Threads: 2}
}

// validate reports whether p is structurally usable and within the DoS
// bounds; it is what ParseSlot checks. argon2 itself needs at least
// 8 KiB of memory per lane.
func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d outside 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1:
		return fmt.Errorf("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d KiB", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	}
	return nil
}

// validateNew is validate plus the floor for newly made slots.
func (p KDFParams) validateNew() error {
	if err := p.validate(); err != nil {
		return err
	}
	if p.MemoryKiB < minKDFMemoryKiB {
		return fmt.Errorf("argon2id memory %d KiB is below the %d KiB floor for new slots", p.MemoryKiB, minKDFMemoryKiB)
	}
	return nil
}

// passphraseKEK derives the key-encryption key of a passphrase slot:
// argon2id(passphrase, salt, t, m, p) producing 32 bytes.
func passphraseKEK(passphrase, salt []byte, p KDFParams) [KeySize]byte {
	var kek [KeySize]byte
	copy(kek[:], argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, KeySize))
	return kek
}

// labelKeyFileKEK is the HKDF info label for key-file slots.
const labelKeyFileKEK = "coffer/v1 keyfile-kek"

// keyFileKEK derives the key-encryption key of a key-file slot:
// HKDF-SHA256(ikm = file key, salt = slot salt, info = labelKeyFileKEK).
// The file key is already uniformly random, so no stretching is needed.
func keyFileKEK(fileKey, salt []byte) [KeySize]byte {
	out, err := hkdf.Key(sha256.New, fileKey, salt, labelKeyFileKEK, KeySize)
	if err != nil {
		panic("cipher: HKDF-SHA256 refused to derive a 32-byte key: " + err.Error())
	}
	var kek [KeySize]byte
	copy(kek[:], out)
	return kek
}
