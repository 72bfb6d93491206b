// Package cipher owns every secret in a coffer repository and every
// cryptographic operation performed with one.
//
// It owns:
//
//   - the master key: 256 random bits generated once per repository
//     ([NewMasterKey]);
//   - key slots: the master key stored wrapped under a passphrase
//     (argon2id) or a key file, as JSON that may sit in the bucket
//     ([Slot], [WrapPassphrase], [WrapKeyFile], [ParseSlot]);
//   - key files: 32 random bytes in a small text file readable only by its
//     owner ([GenerateKeyFile], [ReadKeyFile]);
//   - subkeys: one per use, derived from the master key with HKDF-SHA256 and
//     the repository ID as salt ([DeriveKeys], [Keys]);
//   - block identities: keyed MACs of plaintext, so the store cannot test
//     whether a known file is present ([Keys.BlockID], [ID]);
//   - sealing: XAES-256-GCM (AES-256-GCM with a 192-bit random nonce and a
//     per-message derived key) for every byte that leaves the machine
//     ([Sealer]).
//
// The byte-level formats produced here are frozen by golden vectors in the
// package tests and documented in docs/FORMAT.md (section "cipher").
//
// Errors are the sentinels [ErrAuth], [ErrFormat], [ErrKeyFilePerm] and
// [ErrParams], possibly wrapped; test them with errors.Is. Nothing in this
// package logs, and no secret appears in an error message.
//
// The package imports nothing else from coffer.
package cipher
