package cipher

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The golden vectors below freeze the format. If one of these tests fails,
// the format changed: existing repositories would no longer open. Do not
// update a value without a format version bump and a migration.

// goldenMasterKey is 00 01 02 ... 1f.
func goldenMasterKey() MasterKey {
	var mk MasterKey
	for i := range mk {
		mk[i] = byte(i)
	}
	return mk
}

var goldenRepoID = []byte("golden-repository-id")

// goldenFileKey is 80 81 ... 9f, the key in testdata/keyfile-v1.txt.
func goldenFileKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(0x80 + i)
	}
	return k
}

const goldenPassphrase = "correct horse battery staple"

// goldenNonce is the fixed nonce used for golden sealed blobs.
var goldenNonce = []byte("coffer golden nonce 24by")

func TestGoldenSubkeys(t *testing.T) {
	mk := goldenMasterKey()
	k := DeriveKeys(mk, goldenRepoID)
	tests := []struct {
		label string
		got   [KeySize]byte
		want  string
	}{
		{labelBlockID, k.blockID, "e6ac4a438677ae6eadca69a97fa3f72ffce4db16f8533a524f1c8c67cd1143fb"},
		{labelAuditMAC, k.auditMAC, "98ccc3963ca76130bc9589512e9a94896dc6e8aaf54d8f853d8c4719afe22f80"},
		{labelChunkerSeed, k.ChunkerSeed(), "40c4bde86ed08eed79f43bbb15519428fb25a3730d95eb485b3302c6b7488d33"},
		{labelContents, deriveSubkey(mk, goldenRepoID, labelContents), "01a8380a06412363994316354ef2880d96bb40dc622a665234e1b823d92d92df"},
		{labelMetadata, deriveSubkey(mk, goldenRepoID, labelMetadata), "9a3892874f3d42392c6ba051b827a585e39211bae2032fbe0e04cac8d68aab99"},
		{labelAudit, deriveSubkey(mk, goldenRepoID, labelAudit), "227b4e426ecf1a2ba3125e48463c90fa00434ac662042b4f956f42e687cf73fb"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(tc.got[:]); got != tc.want {
			t.Errorf("subkey %q = %s, want %s", tc.label, got, tc.want)
		}
	}
}

func TestGoldenBlockIDAndMAC(t *testing.T) {
	k := DeriveKeys(goldenMasterKey(), goldenRepoID)
	ids := []struct {
		plaintext string
		want      string
	}{
		{"hello, coffer", "ec209e812fb548bebc871332651e4933426ae4b593991437c42388bf1dbca107"},
		{"", "2c6dbddd2586df04ae517450eab5b730af90f38c3d0dc1b86cc88b9b5e7c250c"},
	}
	for _, tc := range ids {
		// Twice: the second call uses a pooled, reset hasher.
		for range 2 {
			if got := k.BlockID([]byte(tc.plaintext)).String(); got != tc.want {
				t.Errorf("BlockID(%q) = %s, want %s", tc.plaintext, got, tc.want)
			}
		}
	}
	mac := k.AuditMAC([]byte("audit record 1"))
	if got, want := hex.EncodeToString(mac[:]), "fa8699d31afd192520ef0017badeb8b6594159515203c97406cef321bc656184"; got != want {
		t.Errorf("AuditMAC = %s, want %s", got, want)
	}
}

func TestGoldenSealed(t *testing.T) {
	k := DeriveKeys(goldenMasterKey(), goldenRepoID)
	plaintext := []byte("block plaintext")
	ad := []byte("v1|repo|id")
	tests := []struct {
		name   string
		sealer *Sealer
		want   string
	}{
		{"contents", k.Contents(), "636f6666657220676f6c64656e206e6f6e6365203234627981703f9e799821cc9cfbbd738755362e6e85aa015aaea8c564b164372ceaea"},
		{"metadata", k.Metadata(), "636f6666657220676f6c64656e206e6f6e63652032346279d3dd58cb3b401d935f6062c26636fb0efc5337eec71d71d6ab14f6825d3941"},
		{"audit", k.Audit(), "636f6666657220676f6c64656e206e6f6e63652032346279440d8e31014ffb8ca6d0d87cc303f297a4a25ca87c8171b59c4266bbe2d1cb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed := tc.sealer.sealWithNonce(nil, goldenNonce, plaintext, ad)
			if got := hex.EncodeToString(sealed); got != tc.want {
				t.Errorf("sealed = %s, want %s", got, tc.want)
			}
			// The frozen bytes must open, which also proves Open reads the
			// layout Seal writes.
			got, err := tc.sealer.Open(nil, mustHex(t, tc.want), ad)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("Open(golden) = %q, %v", got, err)
			}
		})
	}
}

func TestGoldenSlots(t *testing.T) {
	tests := []struct {
		file   string
		kind   string
		secret []byte
	}{
		{"slot-passphrase-v1.json", KindPassphrase, []byte(goldenPassphrase)},
		{"slot-keyfile-v1.json", KindKeyFile, goldenFileKey()},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseSlot(data)
			if err != nil {
				t.Fatalf("ParseSlot: %v", err)
			}
			if s.Kind() != tc.kind {
				t.Errorf("Kind = %q, want %q", s.Kind(), tc.kind)
			}
			mk, err := s.Unwrap(tc.secret)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if mk != goldenMasterKey() {
				t.Errorf("Unwrap = %x, want %x", mk, goldenMasterKey())
			}
			out, err := s.Marshal()
			if err != nil || !bytes.Equal(out, data) {
				t.Errorf("Marshal = %s, %v; want the file's bytes %s", out, err, data)
			}
		})
	}
}

// TestGoldenSlotsRegenerate checks that wrapping with the golden salt and
// nonce reproduces the golden files byte for byte.
func TestGoldenSlotsRegenerate(t *testing.T) {
	salt := make([]byte, slotSaltSize)
	for i := range salt {
		salt[i] = byte(0x40 + i)
	}
	slots := map[string]*Slot{
		"slot-passphrase-v1.json": wrapPassphrase(goldenMasterKey(), []byte(goldenPassphrase), KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}, salt, goldenNonce),
		"slot-keyfile-v1.json":    wrapKeyFile(goldenMasterKey(), goldenFileKey(), salt, goldenNonce),
	}
	for file, s := range slots {
		want, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Marshal()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: regenerated %s, %v; want %s", file, got, err, want)
		}
	}
}

func TestGoldenKeyFile(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "keyfile-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := formatKeyFile(goldenFileKey()); !bytes.Equal(got, want) {
		t.Errorf("formatKeyFile = %q, want %q", got, want)
	}
	key, err := parseKeyFile(want)
	if err != nil || !bytes.Equal(key, goldenFileKey()) {
		t.Errorf("parseKeyFile(golden) = %x, %v", key, err)
	}
}
