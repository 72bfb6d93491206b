package audit

import "testing"

// FuzzOpen: any bytes at a sequence key either open as a record sealed
// there or fail with ErrRecord; nothing panics, and junk never opens.
func FuzzOpen(f *testing.F) {
	keys := testKeys(f)
	good, err := seal(keys, testRepoID, &Record{Seq: 7, Kind: KindMount})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, uint64(7))
	f.Add([]byte("junk"), uint64(1))
	f.Add([]byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, seq uint64) {
		rec, err := open(keys, testRepoID, seq, data)
		// Each fuzz worker seals its own good record (fresh nonce), so
		// only the record's contents can be checked, not its bytes.
		if err == nil && (seq != 7 || rec.Seq != 7 || rec.Kind != KindMount) {
			t.Fatalf("%x at seq %d opened as %+v", data, seq, rec)
		}
	})
}

// FuzzParseKey: a key parses only as the sequence number Key writes.
func FuzzParseKey(f *testing.F) {
	f.Add(Key(1))
	f.Add("audit/18446744073709551615")
	f.Add("audit/99999999999999999999")
	f.Add("audit/x")
	f.Fuzz(func(t *testing.T, key string) {
		if n, ok := parseKey(key); ok && Key(n) != key {
			t.Fatalf("%q parsed as %d, which is %q", key, n, Key(n))
		}
	})
}
