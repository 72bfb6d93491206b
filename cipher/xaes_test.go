package cipher

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func fill32(b byte) [KeySize]byte {
	var k [KeySize]byte
	for i := range k {
		k[i] = b
	}
	return k
}

// TestXAESSpecVectors checks the construction against the two worked
// examples in https://c2sp.org/XAES-256-GCM, intermediate values included.
func TestXAESSpecVectors(t *testing.T) {
	tests := []struct {
		name       string
		key        [KeySize]byte
		k1, kx     string
		ad         string
		ciphertext string // ciphertext || tag, without the nonce
	}{
		{
			name:       "msb(L)=0",
			key:        fill32(0x01),
			k1:         "e531954aca063d5b8d9c47a47d4cc6f0",
			kx:         "c8612c9ed53fe43e8e005b828a1631a0bbcb6ab2f46514ec4f439fcfd0fa969b",
			ad:         "",
			ciphertext: "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271",
		},
		{
			name:       "msb(L)=1",
			key:        fill32(0x03),
			k1:         "23810ec50edb99f374409466ed1f4b7b",
			kx:         "e9c621d4cdd9b11b00a6427ad7e559aeedd66b3857646677748f8ca796cb3fd8",
			ad:         "c2sp.org/XAES-256-GCM",
			ciphertext: "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d",
		},
	}
	nonce := []byte("ABCDEFGHIJKLMNOPQRSTUVWX")
	plaintext := []byte("XAES-256-GCM")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSealer(tc.key)
			if got := hex.EncodeToString(s.k1[:]); got != tc.k1 {
				t.Errorf("K1 = %s, want %s", got, tc.k1)
			}
			kx := s.deriveKey(nonce)
			if got := hex.EncodeToString(kx[:]); got != tc.kx {
				t.Errorf("Kx = %s, want %s", got, tc.kx)
			}
			sealed := s.sealWithNonce(nil, nonce, plaintext, []byte(tc.ad))
			want := append(append([]byte{}, nonce...), mustHex(t, tc.ciphertext)...)
			if !bytes.Equal(sealed, want) {
				t.Errorf("sealed = %x, want %x", sealed, want)
			}
			got, err := s.Open(nil, sealed, []byte(tc.ad))
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("Open = %q, %v; want %q", got, err, plaintext)
			}
		})
	}
}

// TestXAESAccumulated runs the spec's accumulated randomized test: inputs
// come from a SHAKE-128 stream with empty input, and every ciphertext is
// absorbed into a second SHAKE-128 whose first 32 output bytes are known.
func TestXAESAccumulated(t *testing.T) {
	tests := []struct {
		iterations int
		want       string
	}{
		{10_000, "e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939"},
		{1_000_000, "2163ae1445985a30b60585ee67daa55674df06901b890593e824b8a7c885ab15"},
	}
	for _, tc := range tests {
		if tc.iterations > 10_000 && testing.Short() {
			continue // the long run takes seconds; -short keeps the 10 000 run
		}
		rng := sha3.NewSHAKE128()
		acc := sha3.NewSHAKE128()
		var key [KeySize]byte
		nonce := make([]byte, NonceSize)
		var lenByte [1]byte
		buf := make([]byte, 0, 256+Overhead)
		for i := 0; i < tc.iterations; i++ {
			rng.Read(key[:])
			rng.Read(nonce)
			rng.Read(lenByte[:])
			plaintext := make([]byte, lenByte[0])
			rng.Read(plaintext)
			rng.Read(lenByte[:])
			ad := make([]byte, lenByte[0])
			rng.Read(ad)

			s := NewSealer(key)
			buf = s.sealWithNonce(buf[:0], nonce, plaintext, ad)
			acc.Write(buf[NonceSize:])
			got, err := s.Open(nil, buf, ad)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("iteration %d: Open = %x, %v; want %x", i, got, err, plaintext)
			}
		}
		sum := make([]byte, 32)
		acc.Read(sum)
		if got := hex.EncodeToString(sum); got != tc.want {
			t.Errorf("%d iterations: hash %s, want %s", tc.iterations, got, tc.want)
		}
	}
}
