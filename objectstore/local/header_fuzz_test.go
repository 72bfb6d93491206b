package local

import (
	"bytes"
	"testing"
	"time"

	"coffer/objectstore"
)

// FuzzDecodeHeader: any bytes either fail as ErrCorrupt or decode to a
// header that encodes back to the same bytes' meaning.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(header{}.encode())
	f.Add(header{retention: objectstore.Retention{Mode: objectstore.Compliance, Until: time.Unix(1e9, 5)}}.encode())
	f.Add([]byte("COFFOBJ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHeader(data)
		if err != nil {
			return
		}
		again, err := decodeHeader(h.encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.sum != h.sum || !again.retention.Until.Equal(h.retention.Until) || again.retention.Mode != h.retention.Mode {
			t.Fatal("header changed in a round trip")
		}
		if !bytes.Equal(h.encode()[:8], data[:8]) {
			t.Fatal("magic changed")
		}
	})
}
