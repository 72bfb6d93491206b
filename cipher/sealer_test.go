package cipher

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func testSealer() *Sealer { return NewSealer(fill32(0x42)) }

func TestSealOpenRoundTrip(t *testing.T) {
	s := testSealer()
	for _, n := range []int{0, 1, 15, 16, 17, 4096, 1 << 20} {
		pt := bytes.Repeat([]byte{0xa5}, n)
		ad := []byte(fmt.Sprintf("ad-%d", n))
		sealed := s.Seal(nil, pt, ad)
		if len(sealed) != n+Overhead {
			t.Errorf("len(Seal(%d bytes)) = %d, want %d", n, len(sealed), n+Overhead)
		}
		got, err := s.Open(nil, sealed, ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%d bytes)) = %d bytes, %v", n, len(got), err)
		}
	}
}

func TestSealAppendsToDst(t *testing.T) {
	s := testSealer()
	prefix := []byte("prefix")
	sealed := s.Seal(append([]byte{}, prefix...), []byte("data"), nil)
	if !bytes.HasPrefix(sealed, prefix) {
		t.Fatalf("Seal dropped dst's contents: %q", sealed)
	}
	opened, err := s.Open([]byte("out:"), sealed[len(prefix):], nil)
	if err != nil || string(opened) != "out:data" {
		t.Fatalf("Open = %q, %v; want %q", opened, err, "out:data")
	}
}

func TestSealNoncesDiffer(t *testing.T) {
	s := testSealer()
	seen := make(map[string]bool)
	for range 1000 {
		nonce := string(s.Seal(nil, []byte("same"), nil)[:NonceSize])
		if seen[nonce] {
			t.Fatal("Seal repeated a nonce")
		}
		seen[nonce] = true
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	s := testSealer()
	pt := []byte("the block's plaintext, long enough to span two AES blocks")
	ad := []byte("v1|repo|block-id")
	sealed := s.Seal(nil, pt, ad)
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	tests := []struct {
		name    string
		mutate  func([]byte) []byte // applied to a copy of sealed
		ad      []byte
		wantErr error
	}{
		{"nonce first byte", flip(0), ad, ErrAuth},
		{"nonce byte 11 (key half)", flip(11), ad, ErrAuth},
		{"nonce byte 12 (GCM half)", flip(12), ad, ErrAuth},
		{"nonce last byte", flip(NonceSize - 1), ad, ErrAuth},
		{"ciphertext first byte", flip(NonceSize), ad, ErrAuth},
		{"ciphertext last byte", flip(NonceSize + len(pt) - 1), ad, ErrAuth},
		{"tag first byte", flip(NonceSize + len(pt)), ad, ErrAuth},
		{"tag last byte", flip(len(sealed) - 1), ad, ErrAuth},
		{"truncated by one", func(b []byte) []byte { return b[:len(b)-1] }, ad, ErrAuth},
		{"tag removed", func(b []byte) []byte { return b[:len(b)-TagSize] }, ad, ErrAuth},
		{"extended by one", func(b []byte) []byte { return append(b, 0) }, ad, ErrAuth},
		{"ciphertext removed", func(b []byte) []byte { return append(b[:NonceSize:NonceSize], b[NonceSize+len(pt):]...) }, ad, ErrAuth},
		{"ad changed", nil, []byte("v1|repo|block-iD"), ErrAuth},
		{"ad empty", nil, nil, ErrAuth},
		{"ad extended", nil, append(append([]byte{}, ad...), 0), ErrAuth},
		{"shorter than overhead", func(b []byte) []byte { return b[:Overhead-1] }, ad, ErrFormat},
		{"empty", func(b []byte) []byte { return nil }, ad, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]byte{}, sealed...)
			if tc.mutate != nil {
				in = tc.mutate(in)
			}
			got, err := s.Open(nil, in, tc.ad)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			if got != nil {
				t.Fatalf("Open returned %d bytes of plaintext on error", len(got))
			}
		})
	}
}

func TestOpenRejectsOtherKey(t *testing.T) {
	k1 := DeriveKeys(goldenMasterKey(), []byte("repo-a"))
	k2 := DeriveKeys(goldenMasterKey(), []byte("repo-b"))
	sealed := k1.Contents().Seal(nil, []byte("secret"), nil)
	others := map[string]*Sealer{
		"metadata, same repo":  k1.Metadata(),
		"audit, same repo":     k1.Audit(),
		"contents, other repo": k2.Contents(),
	}
	for name, s := range others {
		if _, err := s.Open(nil, sealed, nil); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Open error = %v, want ErrAuth", name, err)
		}
	}
}

func TestSealerConcurrent(t *testing.T) {
	s := testSealer()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 1024)
			for i := range 200 {
				pt := []byte(fmt.Sprintf("goroutine %d message %d", g, i))
				ad := []byte{byte(g), byte(i)}
				buf = s.Seal(buf[:0], pt, ad)
				got, err := s.Open(nil, buf, ad)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("goroutine %d message %d: got %q, %v", g, i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
