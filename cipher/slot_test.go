package cipher

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cheapKDF keeps argon2 fast in tests; only wrapPassphrase accepts it.
var cheapKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func readGoldenSlot(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDefaultKDFParams(t *testing.T) {
	p := DefaultKDFParams()
	if err := p.validateNew(); err != nil {
		t.Fatalf("DefaultKDFParams %+v invalid: %v", p, err)
	}
	if p.MemoryKiB < 64<<10 {
		t.Errorf("DefaultKDFParams uses %d KiB, want at least 64 MiB", p.MemoryKiB)
	}
}

// TestWrapPassphrase runs the public path at the cheapest cost it accepts;
// BenchmarkDefaultKDF times the default cost.
func TestWrapPassphrase(t *testing.T) {
	mk, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	floor := KDFParams{Time: 1, MemoryKiB: minKDFMemoryKiB, Threads: 1}
	s, err := WrapPassphrase(mk, []byte("hunter2 but longer"), floor)
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseSlot(data)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Kind() != KindPassphrase || parsed.KDF() != floor {
		t.Errorf("parsed slot kind %q kdf %+v", parsed.Kind(), parsed.KDF())
	}
	got, err := parsed.Unwrap([]byte("hunter2 but longer"))
	if err != nil || got != mk {
		t.Errorf("Unwrap = %x, %v; want %x", got, err, mk)
	}
}

func TestUnwrapWrongSecret(t *testing.T) {
	mk := goldenMasterKey()
	salt := make([]byte, slotSaltSize)
	pass := wrapPassphrase(mk, []byte("right"), cheapKDF, salt, goldenNonce)
	file := wrapKeyFile(mk, goldenFileKey(), salt, goldenNonce)
	otherFileKey := goldenFileKey()
	otherFileKey[31] ^= 1
	tests := []struct {
		name   string
		slot   *Slot
		secret []byte
	}{
		{"wrong passphrase", pass, []byte("wrong")},
		{"passphrase with extra byte", pass, []byte("right ")},
		{"empty passphrase", pass, nil},
		{"key file's key as passphrase", pass, goldenFileKey()},
		{"wrong key-file key", file, otherFileKey},
		{"short key-file key", file, goldenFileKey()[:31]},
		{"passphrase for key-file slot", file, []byte("right")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.slot.Unwrap(tc.secret)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Unwrap error = %v, want ErrAuth", err)
			}
			if got != (MasterKey{}) {
				t.Fatal("Unwrap returned key material on error")
			}
		})
	}
}

func TestWrapRejectsBadParams(t *testing.T) {
	mk := goldenMasterKey()
	tests := []struct {
		name string
		pass string
		p    KDFParams
	}{
		{"empty passphrase", "", DefaultKDFParams()},
		{"time zero", "pw", KDFParams{Time: 0, MemoryKiB: 64 << 10, Threads: 1}},
		{"time too high", "pw", KDFParams{Time: 101, MemoryKiB: 64 << 10, Threads: 1}},
		{"threads zero", "pw", KDFParams{Time: 1, MemoryKiB: 64 << 10, Threads: 0}},
		{"memory below floor", "pw", KDFParams{Time: 3, MemoryKiB: 1 << 10, Threads: 1}},
		{"memory above 4 GiB", "pw", KDFParams{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1}},
	}
	for _, tc := range tests {
		if _, err := WrapPassphrase(mk, []byte(tc.pass), tc.p); !errors.Is(err, ErrParams) {
			t.Errorf("%s: WrapPassphrase error = %v, want ErrParams", tc.name, err)
		}
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := WrapKeyFile(mk, make([]byte, n)); !errors.Is(err, ErrParams) {
			t.Errorf("WrapKeyFile(%d bytes) error = %v, want ErrParams", n, err)
		}
	}
}

func TestWrapKeyFileRoundTrip(t *testing.T) {
	mk, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	s1, err := WrapKeyFile(mk, goldenFileKey())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := WrapKeyFile(mk, goldenFileKey())
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := s1.Marshal()
	d2, _ := s2.Marshal()
	if string(d1) == string(d2) {
		t.Error("two wraps of one key produced identical slots (salt or nonce not random)")
	}
	parsed, err := ParseSlot(d2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parsed.Unwrap(goldenFileKey()); err != nil || got != mk {
		t.Errorf("Unwrap = %x, %v", got, err)
	}
}

// TestSlotFieldsBound edits one field of a golden slot at a time and
// checks that the edit is caught: either ParseSlot refuses it or Unwrap
// with the right secret fails authentication.
func TestSlotFieldsBound(t *testing.T) {
	pass := readGoldenSlot(t, "slot-passphrase-v1.json")
	file := readGoldenSlot(t, "slot-keyfile-v1.json")
	tests := []struct {
		name     string
		json     string
		secret   []byte
		old, new string
	}{
		{"time", pass, []byte(goldenPassphrase), `"t":1`, `"t":2`},
		{"memory", pass, []byte(goldenPassphrase), `"m":64`, `"m":72`},
		{"threads", pass, []byte(goldenPassphrase), `"p":1`, `"p":2`},
		{"salt", pass, []byte(goldenPassphrase), `"salt":"QEFC`, `"salt":"QEFD`},
		{"nonce", pass, []byte(goldenPassphrase), `"nonce":"Y29m`, `"nonce":"Y29n`},
		{"wrapped", pass, []byte(goldenPassphrase), `"wrapped":"7/oq`, `"wrapped":"7/or`},
		{"key-file salt", file, goldenFileKey(), `"salt":"QEFC`, `"salt":"QEFD`},
		{"key-file wrapped tag", file, goldenFileKey(), `K+FX"`, `K+FY"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.json, tc.old) {
				t.Fatalf("golden slot lacks %s", tc.old)
			}
			s, err := ParseSlot([]byte(strings.Replace(tc.json, tc.old, tc.new, 1)))
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("ParseSlot error = %v, want ErrFormat", err)
				}
				return
			}
			if _, err := s.Unwrap(tc.secret); !errors.Is(err, ErrAuth) {
				t.Fatalf("Unwrap of edited slot error = %v, want ErrAuth", err)
			}
		})
	}
}

// TestSlotKindBound swaps a key-file slot's kind while keeping its KEK,
// which only the associated data can catch.
func TestSlotKindBound(t *testing.T) {
	s, err := ParseSlot([]byte(readGoldenSlot(t, "slot-keyfile-v1.json")))
	if err != nil {
		t.Fatal(err)
	}
	forged := *s
	forged.kind = "keyfilX"
	forged.kdf = KDFParams{}
	// Unwrap refuses unknown kinds outright; check the AD directly.
	kek := keyFileKEK(goldenFileKey(), s.salt)
	sealed := append(append([]byte{}, s.nonce...), s.wrapped...)
	if _, err := NewSealer(kek).Open(nil, sealed, forged.associatedData()); !errors.Is(err, ErrAuth) {
		t.Fatalf("opening with another kind's AD: %v, want ErrAuth", err)
	}
	if _, err := NewSealer(kek).Open(nil, sealed, s.associatedData()); err != nil {
		t.Fatalf("opening with the slot's own AD: %v", err)
	}
}

func TestParseSlotRejects(t *testing.T) {
	pass := readGoldenSlot(t, "slot-passphrase-v1.json")
	file := readGoldenSlot(t, "slot-keyfile-v1.json")
	edit := func(src, old, new string) string {
		if !strings.Contains(src, old) {
			t.Fatalf("golden slot lacks %s", old)
		}
		return strings.Replace(src, old, new, 1)
	}
	tests := []struct{ name, json string }{
		{"empty", ""},
		{"not JSON", "hello"},
		{"array", "[]"},
		{"null", "null"},
		{"trailing data", pass + "{}"},
		{"trailing garbage", pass + " x"},
		{"version 2", edit(pass, `"version":1`, `"version":2`)},
		{"version missing", edit(pass, `"version":1,`, ``)},
		{"version float", edit(pass, `"version":1`, `"version":1.5`)},
		{"unknown kind", edit(pass, `"passphrase"`, `"password"`)},
		{"unknown field", edit(pass, `"version":1`, `"version":1,"extra":true`)},
		{"kdf missing", edit(pass, `"kdf":{"alg":"argon2id","t":1,"m":64,"p":1},`, ``)},
		{"kdf alg", edit(pass, `argon2id`, `argon2i`)},
		{"time zero", edit(pass, `"t":1`, `"t":0`)},
		{"time absurd", edit(pass, `"t":1`, `"t":101`)},
		{"time overflow", edit(pass, `"t":1`, `"t":4294967296`)},
		{"memory absurd", edit(pass, `"m":64`, `"m":4194305`)},
		{"memory below argon2 minimum", edit(pass, `"m":64`, `"m":7`)},
		{"memory negative", edit(pass, `"m":64`, `"m":-1`)},
		{"threads zero", edit(pass, `"p":1`, `"p":0`)},
		{"threads overflow", edit(pass, `"p":1`, `"p":256`)},
		{"salt short", edit(pass, `"salt":"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="`, `"salt":"QEFC"`)},
		{"salt not base64", edit(pass, `"salt":"QEFC`, `"salt":"!EFC`)},
		{"nonce short", edit(pass, `"nonce":"Y29mZmVyIGdvbGRlbiBub25jZSAyNGJ5"`, `"nonce":"Y29m"`)},
		{"wrapped short", edit(pass, `"wrapped":"7/oq`, `"wrapped":"`)},
		{"key file with kdf", edit(file, `"kind":"keyfile",`, `"kind":"keyfile","kdf":{"alg":"argon2id","t":1,"m":64,"p":1},`)},
		{"key file nonce missing", edit(file, `"nonce":"Y29mZmVyIGdvbGRlbiBub25jZSAyNGJ5",`, ``)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseSlot([]byte(tc.json)); !errors.Is(err, ErrFormat) {
				t.Fatalf("ParseSlot error = %v, want ErrFormat", err)
			}
		})
	}
}

func TestUnwrapZeroSlot(t *testing.T) {
	if _, err := new(Slot).Unwrap([]byte("x")); !errors.Is(err, ErrFormat) {
		t.Fatalf("Unwrap of zero Slot error = %v, want ErrFormat", err)
	}
}
