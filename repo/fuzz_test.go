package repo

import (
	"encoding/json"
	"testing"
)

// The parsers of everything read back from the store: they must never
// panic, and what they accept must re-encode to something they accept.

func FuzzDecodeEntries(f *testing.F) {
	f.Add(encodeEntries([]indexEntry{{Loc: location{Off: 1, Len: 2, Type: DataBlock}}}))
	f.Add([]byte("CIX1"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeEntries(data)
		if err != nil {
			return
		}
		again, err := decodeEntries(encodeEntries(entries))
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseTree(f *testing.F) {
	good, _ := json.Marshal(Tree{Nodes: []Node{
		{Name: "a", Type: TypeFile, Size: 3, Blocks: []BlockRef{{Len: 3}}},
		{Name: "b", Type: TypeDir, Subtree: [32]byte{1}},
		{Name: "c", Type: TypeSymlink, Target: "a"},
	}})
	f.Add(good)
	f.Add([]byte(`{"nodes":[{"name":"..","type":"file"}]}`))
	f.Add([]byte(`{"nodes":[{"name":"x","type":"dir","subtree":"zz"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := parseTree(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(tree)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseTree(again); err != nil {
			t.Fatalf("accepted tree does not re-parse: %v", err)
		}
	})
}

func FuzzParseSnapshot(f *testing.F) {
	good, _ := json.Marshal(Snapshot{Tree: [32]byte{2}, Host: "h", Tags: []string{"t"}})
	f.Add(good)
	f.Add([]byte(`{"tree":"00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSnapshot(data)
		if err != nil {
			return
		}
		again, err := marshalSnapshot(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseSnapshot(again); err != nil {
			t.Fatalf("accepted snapshot does not re-parse: %v", err)
		}
	})
}
