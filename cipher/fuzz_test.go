package cipher

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary blobs and associated data to Open. Open must
// never panic, must fail only with ErrAuth or ErrFormat, and must return
// plaintext only for the one (blob, ad) pair that was really sealed.
func FuzzOpen(f *testing.F) {
	s := DeriveKeys(goldenMasterKey(), goldenRepoID).Contents()
	plaintext := []byte("block plaintext")
	ad := []byte("v1|repo|id")
	genuine := s.sealWithNonce(nil, goldenNonce, plaintext, ad)
	f.Add(genuine, ad)
	f.Add(genuine[:Overhead], ad)
	f.Add(genuine[:Overhead-1], ad)
	f.Add([]byte{}, []byte{})
	empty := s.sealWithNonce(nil, goldenNonce, nil, nil) // plaintext and ad empty
	f.Add(empty, []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad2 []byte) {
		got, err := s.Open(nil, sealed, ad2)
		if err != nil {
			if got != nil {
				t.Fatal("Open returned plaintext with an error")
			}
			if len(sealed) < Overhead && !errors.Is(err, ErrFormat) {
				t.Fatalf("short blob: error %v, want ErrFormat", err)
			}
			if len(sealed) >= Overhead && !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v, want ErrAuth", err)
			}
			return
		}
		switch {
		case bytes.Equal(sealed, genuine) && bytes.Equal(ad2, ad):
			if !bytes.Equal(got, plaintext) {
				t.Fatalf("Open returned %q, want %q", got, plaintext)
			}
		case bytes.Equal(sealed, empty) && len(ad2) == 0:
			if len(got) != 0 {
				t.Fatalf("Open returned %q, want nothing", got)
			}
		default:
			t.Fatalf("Open accepted a modified input: blob %x ad %x", sealed, ad2)
		}
	})
}

// FuzzParseSlot feeds arbitrary bytes to ParseSlot. It must never panic,
// must fail only with ErrFormat, and whatever it accepts must survive a
// Marshal/ParseSlot round trip unchanged and be within the DoS bounds.
func FuzzParseSlot(f *testing.F) {
	for _, file := range []string{"slot-passphrase-v1.json", "slot-keyfile-v1.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"kind":"passphrase","kdf":{"alg":"argon2id","t":100,"m":4194304,"p":255}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSlot(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v, want ErrFormat", err)
			}
			return
		}
		if s.Kind() == KindPassphrase {
			p := s.KDF()
			if p.Time > maxKDFTime || p.MemoryKiB > maxKDFMemoryKiB || p.Threads == 0 {
				t.Fatalf("accepted out-of-bounds KDF %+v", p)
			}
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed slot: %v", err)
		}
		again, err := ParseSlot(out)
		if err != nil {
			t.Fatalf("ParseSlot(Marshal(s)): %v", err)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the slot: %s vs %s", out, out2)
		}
	})
}

// FuzzUnwrap parses arbitrary slots and unwraps them with arbitrary
// secrets. Unwrap must never panic, must fail only with ErrAuth or
// ErrFormat, and may succeed only for the golden slots' content and
// secrets, yielding the golden master key. Slots whose argon2 cost would
// make one run slow are left out: the bounds are ParseSlot's job.
func FuzzUnwrap(f *testing.F) {
	golden := make(map[string][]byte) // canonical slot JSON -> secret
	for file, secret := range map[string][]byte{
		"slot-passphrase-v1.json": []byte(goldenPassphrase),
		"slot-keyfile-v1.json":    goldenFileKey(),
	} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		golden[string(data)] = secret
		f.Add(data, secret)
		f.Add(data, []byte("wrong"))
	}
	f.Fuzz(func(t *testing.T, data, secret []byte) {
		s, err := ParseSlot(data)
		if err != nil {
			return
		}
		if p := s.KDF(); s.Kind() == KindPassphrase && (p.Time > 2 || p.MemoryKiB > 1024) {
			return
		}
		mk, err := s.Unwrap(secret)
		if err != nil {
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v, want ErrAuth or ErrFormat", err)
			}
			if mk != (MasterKey{}) {
				t.Fatal("Unwrap returned key material with an error")
			}
			return
		}
		canonical, _ := s.Marshal()
		want, ok := golden[string(canonical)]
		if !ok || !bytes.Equal(secret, want) {
			t.Fatalf("Unwrap succeeded for a slot or secret that was never wrapped: %s / %q", canonical, secret)
		}
		if mk != goldenMasterKey() {
			t.Fatalf("Unwrap returned %x, want the golden master key", mk)
		}
	})
}

// FuzzParseKeyFile feeds arbitrary bytes to the key-file parser. It must
// never panic, must fail only with ErrFormat, and a key it accepts must
// be 32 bytes that format and parse back identically.
func FuzzParseKeyFile(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "keyfile-v1.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(keyFileHeader + "\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := parseKeyFile(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || key != nil {
				t.Fatalf("parseKeyFile = %x, %v; want nil, ErrFormat", key, err)
			}
			return
		}
		if len(key) != KeySize {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
		again, err := parseKeyFile(formatKeyFile(key))
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("format/parse round trip: %x, %v", again, err)
		}
	})
}

// FuzzParseID checks that ParseID never panics, fails only with ErrFormat
// and accepts only strings it writes back case-insensitively equal.
func FuzzParseID(f *testing.F) {
	f.Add("ec209e812fb548bebc871332651e4933426ae4b593991437c42388bf1dbca107")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v, want ErrFormat", err)
			}
			return
		}
		if !bytes.EqualFold([]byte(id.String()), []byte(s)) {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
	})
}
