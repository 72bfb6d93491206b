package cipher

import (
	"crypto/aes"
	stdcipher "crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
)

// Sealer encrypts and authenticates messages under one subkey with
// XAES-256-GCM (https://c2sp.org/XAES-256-GCM): each message gets a fresh
// random 192-bit nonce; the first 96 bits of the nonce select a derived
// AES-256-GCM key, the last 96 bits are the GCM nonce.
//
// A sealed blob is nonce (24 bytes) || ciphertext || tag (16 bytes); see
// [Overhead]. A Sealer is safe for concurrent use by many goroutines.
type Sealer struct {
	// block is AES-256 keyed with the Sealer's subkey. It is immutable
	// after construction; cipher.Block from crypto/aes is safe for
	// concurrent Encrypt calls.
	block stdcipher.Block
	// k1 is the CMAC subkey K1 derived from block (spec steps 1 and 2),
	// computed once because it depends only on the key.
	k1 [aes.BlockSize]byte
}

// NewSealer returns a Sealer keyed with key. Most callers get their Sealers
// from [Keys]; NewSealer exists for keys that do not come from a master key.
func NewSealer(key [KeySize]byte) *Sealer {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		// aes.NewCipher fails only for a key size other than 16, 24 or
		// 32 bytes, which the array type rules out.
		panic("cipher: aes.NewCipher rejected a 32-byte key: " + err.Error())
	}
	s := &Sealer{block: block}
	var l [aes.BlockSize]byte
	block.Encrypt(l[:], l[:])
	// K1 = L << 1, reduced by the GF(2^128) polynomial if the top bit of
	// L was set (NIST SP 800-38B, section 6.1).
	msb := l[0] >> 7
	for i := 0; i < aes.BlockSize-1; i++ {
		s.k1[i] = l[i]<<1 | l[i+1]>>7
	}
	s.k1[aes.BlockSize-1] = l[aes.BlockSize-1]<<1 ^ byte(subtle.ConstantTimeSelect(int(msb), 0x87, 0))
	return s
}

// aead returns the AES-256-GCM instance for the message with this nonce.
func (s *Sealer) aead(nonce []byte) stdcipher.AEAD {
	kx := s.deriveKey(nonce)
	block, err := aes.NewCipher(kx[:])
	if err != nil {
		panic("cipher: aes.NewCipher rejected a 32-byte key: " + err.Error())
	}
	gcm, err := stdcipher.NewGCM(block)
	if err != nil {
		// NewGCM fails only for a block size other than 16 bytes.
		panic("cipher: cipher.NewGCM rejected AES: " + err.Error())
	}
	return gcm
}

// deriveKey returns the per-message AES-256-GCM key Kx: the NIST SP
// 800-108r1 counter-mode KDF with CMAC-AES-256, label "X" and the first
// 96 bits of nonce as context (spec steps 3 to 5). Each PRF input is a
// single block, so CMAC reduces to one AES call on the block XOR K1.
func (s *Sealer) deriveKey(nonce []byte) [KeySize]byte {
	var m [aes.BlockSize]byte
	m[2] = 'X'
	copy(m[4:], nonce[:12])
	for i := range m {
		m[i] ^= s.k1[i]
	}
	var kx [KeySize]byte
	m[1] = 0x01 ^ s.k1[1]
	s.block.Encrypt(kx[:aes.BlockSize], m[:])
	m[1] = 0x02 ^ s.k1[1]
	s.block.Encrypt(kx[aes.BlockSize:], m[:])
	return kx
}

// Seal encrypts and authenticates plaintext, authenticates ad, and appends
// nonce || ciphertext || tag to dst, returning the extended slice.
// plaintext and dst must not overlap. ad is not stored: Open needs the
// same ad, which is how a caller binds a blob to its identity and place.
//
// Seal panics only if the operating system's random source fails, which
// Go's crypto/rand treats as unrecoverable, or if plaintext exceeds the
// GCM limit of about 64 GiB.
func (s *Sealer) Seal(dst, plaintext, ad []byte) []byte {
	var nonce [NonceSize]byte
	// crypto/rand.Read never returns an error; it crashes the program
	// if the kernel cannot supply randomness.
	_, _ = rand.Read(nonce[:])
	return s.sealWithNonce(dst, nonce[:], plaintext, ad)
}

// sealWithNonce is Seal with a caller-chosen nonce. Only tests may call it
// with a fixed nonce: reusing a nonce under one key destroys the
// confidentiality and integrity guarantees.
func (s *Sealer) sealWithNonce(dst, nonce, plaintext, ad []byte) []byte {
	ret, out := sliceForAppend(dst, NonceSize+len(plaintext)+TagSize)
	copy(out, nonce)
	s.aead(nonce).Seal(out[NonceSize:NonceSize], nonce[12:], plaintext, ad)
	return ret
}

// Open authenticates sealed and ad and appends the recovered plaintext to
// dst, returning the extended slice. It fails with [ErrFormat] if sealed
// is shorter than [Overhead], and with [ErrAuth] if the key, nonce,
// ciphertext, tag or ad differ in any way from what Seal used. On error
// no plaintext is returned. dst must not overlap sealed, except exactly:
// sealed[NonceSize:NonceSize] decrypts in place.
func (s *Sealer) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: sealed blob of %d bytes is shorter than the %d-byte overhead", ErrFormat, len(sealed), Overhead)
	}
	nonce := sealed[:NonceSize]
	out, err := s.aead(nonce).Open(dst, nonce[12:], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// sliceForAppend extends in by n bytes, reallocating at most once, and
// returns the whole slice and the n new bytes.
func sliceForAppend(in []byte, n int) (whole, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		whole = in[:total]
	} else {
		whole = make([]byte, total)
		copy(whole, in)
	}
	tail = whole[len(in):]
	return whole, tail
}
