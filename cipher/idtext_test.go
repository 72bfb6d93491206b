package cipher

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// An ID in JSON is its 64 lowercase hex digits, and omitzero leaves the
// zero ID out as omitempty left out an empty hex string.
func TestIDJSONOmitzero(t *testing.T) {
	type rec struct {
		A ID `json:"a"`
		B ID `json:"b,omitzero"`
	}
	var id ID
	for i := range id {
		id[i] = byte(0xf0 + i%16)
	}
	got, err := json.Marshal(rec{A: id})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"` + id.String() + `"}`
	if string(got) != want || strings.ToLower(want) != want {
		t.Errorf("marshal: %s, want %s", got, want)
	}
	got, _ = json.Marshal(rec{B: id})
	if want := `{"a":"` + strings.Repeat("00", IDSize) + `","b":"` + id.String() + `"}`; string(got) != want {
		t.Errorf("marshal: %s, want %s", got, want)
	}
	var back rec
	if err := json.Unmarshal([]byte(`{"a":"`+strings.ToUpper(id.String())+`"}`), &back); err != nil || back.A != id || !back.B.IsZero() {
		t.Errorf("unmarshal: %v, %v", back, err)
	}
	for _, bad := range []string{`""`, `"zz"`, `"` + id.String()[:62] + `"`} {
		if err := json.Unmarshal([]byte(`{"a":`+bad+`}`), &back); !errors.Is(err, ErrFormat) {
			t.Errorf("unmarshal %s: %v, want ErrFormat", bad, err)
		}
	}
}
