package cipher

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestSubkeysDistinct(t *testing.T) {
	mk := goldenMasterKey()
	labels := []string{labelBlockID, labelContents, labelMetadata, labelAudit, labelAuditMAC, labelChunkerSeed, labelKeyFileKEK}
	seen := make(map[[KeySize]byte]string)
	for _, repo := range []string{"repo-a", "repo-b"} {
		for _, l := range labels {
			k := deriveSubkey(mk, []byte(repo), l)
			if prev, dup := seen[k]; dup {
				t.Errorf("%s/%s derives the same key as %s", repo, l, prev)
			}
			seen[k] = repo + "/" + l
			if k == [KeySize]byte(mk) {
				t.Errorf("%s/%s equals the master key", repo, l)
			}
		}
	}
	if len(seen) != 2*len(labels) {
		t.Errorf("%d distinct keys, want %d", len(seen), 2*len(labels))
	}
}

func TestDeriveKeysDeterministic(t *testing.T) {
	a := DeriveKeys(goldenMasterKey(), goldenRepoID)
	b := DeriveKeys(goldenMasterKey(), goldenRepoID)
	if a.blockID != b.blockID || a.auditMAC != b.auditMAC || a.ChunkerSeed() != b.ChunkerSeed() {
		t.Fatal("DeriveKeys is not deterministic")
	}
	sealed := a.Contents().Seal(nil, []byte("x"), nil)
	if _, err := b.Contents().Open(nil, sealed, nil); err != nil {
		t.Fatalf("a second DeriveKeys cannot open the first's blob: %v", err)
	}
}

func TestBlockID(t *testing.T) {
	a := DeriveKeys(goldenMasterKey(), []byte("repo-a"))
	b := DeriveKeys(goldenMasterKey(), []byte("repo-b"))
	pt := []byte("the same plaintext")
	if a.BlockID(pt) != a.BlockID(pt) {
		t.Error("BlockID is not deterministic")
	}
	if a.BlockID(pt) == b.BlockID(pt) {
		t.Error("two repositories give one plaintext the same ID")
	}
	if a.BlockID(pt) == a.BlockID(append(pt, 0)) {
		t.Error("different plaintexts share an ID")
	}
	if a.AuditMAC(pt) == b.AuditMAC(pt) || a.AuditMAC(pt) == [32]byte(a.BlockID(pt)) {
		t.Error("AuditMAC is not independent of repository or BlockID")
	}
}

func TestBlockIDConcurrent(t *testing.T) {
	k := DeriveKeys(goldenMasterKey(), goldenRepoID)
	want := k.BlockID([]byte("hello, coffer"))
	big := make([]byte, 100<<10)
	wantBig := k.BlockID(big)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad int
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if k.BlockID([]byte("hello, coffer")) != want || k.BlockID(big) != wantBig {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if bad != 0 {
		t.Errorf("%d concurrent BlockID results differed", bad)
	}
}

func TestParseID(t *testing.T) {
	id := DeriveKeys(goldenMasterKey(), goldenRepoID).BlockID([]byte("x"))
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String = %q, want 64 lowercase hex digits", s)
	}
	for _, in := range []string{s, strings.ToUpper(s)} {
		got, err := ParseID(in)
		if err != nil || got != id {
			t.Errorf("ParseID(%q) = %v, %v; want %v", in, got, err, id)
		}
	}
	bad := []string{"", s[:63], s + "0", "g" + s[1:], " " + s[1:], s[:62] + "\n0"}
	for _, in := range bad {
		if _, err := ParseID(in); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseID(%q) error = %v, want ErrFormat", in, err)
		}
	}
}

func TestIDJSON(t *testing.T) {
	var id ID
	copy(id[:], mustHex(t, "ec209e812fb548bebc871332651e4933426ae4b593991437c42388bf1dbca107"))
	data, err := json.Marshal(map[string]ID{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"` + hex.EncodeToString(id[:]) + `"}`; string(data) != want {
		t.Errorf("JSON = %s, want %s", data, want)
	}
	var back map[string]ID
	if err := json.Unmarshal(data, &back); err != nil || back["id"] != id {
		t.Errorf("round trip = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"zz"}`), &back); !errors.Is(err, ErrFormat) {
		t.Errorf("bad JSON ID error = %v, want ErrFormat", err)
	}
	if !(ID{}).IsZero() || id.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestNewMasterKey(t *testing.T) {
	a, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a == (MasterKey{}) {
		t.Error("NewMasterKey returned a repeated or zero key")
	}
}
