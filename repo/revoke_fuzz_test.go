package repo

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// goldenRevocation is a revocation's plaintext as FORMAT.md gives it. It
// must keep parsing: revocations already written stay honoured.
const goldenRevocation = `{"slot":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","name":"0123456789abcdef","created":"2026-12-01T20:00:00Z"}`

func TestGoldenRevocation(t *testing.T) {
	rv, err := parseRevocation([]byte(goldenRevocation))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(rv.slot[:]) != "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" || rv.name != "0123456789abcdef" {
		t.Fatalf("parsed %x %q", rv.slot, rv.name)
	}
	for _, bad := range []string{`{}`, `{"slot":"00"}`, `{"slot":"` + strings.Repeat("zz", 32) + `"}`, `[`} {
		if _, err := parseRevocation([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzParseRevocation(f *testing.F) {
	f.Add([]byte(goldenRevocation))
	f.Add([]byte(`{"slot":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rv, err := parseRevocation(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(revocationBody{Slot: hex.EncodeToString(rv.slot[:]), Name: rv.name})
		if err != nil {
			t.Fatal(err)
		}
		if rv2, err := parseRevocation(again); err != nil || rv2 != rv {
			t.Fatalf("accepted %q, which does not round-trip: %+v, %v", data, rv2, err)
		}
	})
}
