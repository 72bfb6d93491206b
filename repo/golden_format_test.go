package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"coffer/cipher"
)

// Golden vectors for the plaintext encodings of tree blocks, link tables
// and snapshots. A tree's ID is a keyed MAC of exactly these bytes, so any
// change to the encoding (a field's Go type, a JSON tag, omitempty versus
// omitzero) changes every tree ID and defeats deduplication against
// existing snapshots. The bytes and IDs below are frozen: a change that
// alters them is a format change (FORMAT.md, FormatVersion), never a
// refactoring.

// goldenKeys are the subkeys of a fixed master key (bytes 0..31) for a
// fixed repository ID (bytes 0xa0..0xaf).
func goldenKeys() *cipher.Keys {
	var mk cipher.MasterKey
	for i := range mk {
		mk[i] = byte(i)
	}
	id := make([]byte, 16)
	for i := range id {
		id[i] = 0xa0 + byte(i)
	}
	return cipher.DeriveKeys(mk, id)
}

func goldenID(t *testing.T, s string) cipher.ID {
	t.Helper()
	id, err := cipher.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// goldenTree has an entry of every type, every field set somewhere, and
// zero values beside non-zero ones.
func goldenTree(t *testing.T) *Tree {
	blockA := goldenID(t, "0101010101010101010101010101010101010101010101010101010101010101")
	blockB := goldenID(t, "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210")
	return &Tree{Nodes: []Node{
		{Name: "block", Type: TypeBlock, Mode: 0o660, GID: 6, Mtime: 1, Atime: 2, Ctime: 3, Rdev: 0x0801},
		{Name: "char", Type: TypeChar, Mode: 0o666, Rdev: 0x0103},
		{Name: "dir", Type: TypeDir, Mode: 0o2775, UID: 1000, GID: 1000,
			Mtime: 1700000000123456789, Atime: 1700000000000000000, Ctime: 1700000001999999999,
			Xattrs:  []Xattr{{Name: "user.dir", Value: []byte("d")}},
			Subtree: goldenID(t, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
			Files:   3, Bytes: 12345},
		{Name: "emptydir", Type: TypeDir, Mode: 0o755,
			Subtree: goldenID(t, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")},
		{Name: "fifo", Type: TypeFIFO, Mode: 0o600},
		{Name: "file", Type: TypeFile, Mode: 0o4755, UID: 1, GID: 2, Size: 10,
			Mtime: -1, Atime: 0, Ctime: 9223372036854775807,
			Xattrs: []Xattr{
				{Name: "security.capability", Value: []byte{0, 1, 2, 0xff}},
				{Name: "user.empty", Value: []byte{}},
				{Name: "user.nil"},
			},
			Blocks: []BlockRef{{ID: blockA, Len: 6}, {ID: blockB, Len: 4}}},
		{Name: "hard", Type: TypeFile, Mode: 0o644, Size: 4,
			Blocks: []BlockRef{{ID: blockB, Len: 4}}, Link: 0x8000000000000001},
		{Name: "socket", Type: TypeSocket, Mode: 0o777},
		{Name: "symlink", Type: TypeSymlink, Mode: 0o777, UID: 4294967295, Target: "dir/ü \"quoted\" <&>"},
		{Name: "zero", Type: TypeFile},
	}}
}

const goldenTreeJSON = `{"nodes":[` +
	`{"name":"block","type":"block","mode":432,"uid":0,"gid":6,"mtime":1,"atime":2,"ctime":3,"rdev":2049},` +
	`{"name":"char","type":"char","mode":438,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0,"rdev":259},` +
	`{"name":"dir","type":"dir","mode":1533,"uid":1000,"gid":1000,"mtime":1700000000123456789,"atime":1700000000000000000,"ctime":1700000001999999999,"xattrs":[{"name":"user.dir","value":"ZA=="}],"subtree":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","files":3,"bytes":12345},` +
	`{"name":"emptydir","type":"dir","mode":493,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0,"subtree":"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"},` +
	`{"name":"fifo","type":"fifo","mode":384,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0},` +
	`{"name":"file","type":"file","mode":2541,"uid":1,"gid":2,"size":10,"mtime":-1,"atime":0,"ctime":9223372036854775807,"xattrs":[{"name":"security.capability","value":"AAEC/w=="},{"name":"user.empty","value":""},{"name":"user.nil","value":null}],"blocks":[{"id":"0101010101010101010101010101010101010101010101010101010101010101","len":6},{"id":"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210","len":4}]},` +
	`{"name":"hard","type":"file","mode":420,"uid":0,"gid":0,"size":4,"mtime":0,"atime":0,"ctime":0,"blocks":[{"id":"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210","len":4}],"link":9223372036854775809},` +
	`{"name":"socket","type":"socket","mode":511,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0},` +
	`{"name":"symlink","type":"symlink","mode":511,"uid":4294967295,"gid":0,"mtime":0,"atime":0,"ctime":0,"target":"dir/ü \"quoted\" \u003c\u0026\u003e"},` +
	`{"name":"zero","type":"file","mode":0,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0}]}`

// goldenTreeID is goldenKeys().BlockID(goldenTreeJSON).
const goldenTreeID = "14129c2671ac49ee15613b559e91cb4eeccdc3398cff7d62a1ce88b7ea8fa1ad"

const goldenLinksJSON = `{"links":{"1":2,"18446744073709551615":4294967295,"9223372036854775809":3}}` // keys sorted as strings

// goldenLinksID is goldenKeys().BlockID(goldenLinksJSON).
const goldenLinksID = "2608c0cdb7a34867c60b72c588783a820180f4a3a58e248368ad049ffc59b8cf"

func goldenSnapshots(t *testing.T) []*Snapshot {
	return []*Snapshot{
		{
			ID:   "ignored, not encoded",
			Time: time.Date(2026, 12, 1, 19, 31, 3, 123456789, time.UTC),
			Host: "web1.example.org", Tags: []string{"nightly", "pre-upgrade"},
			Tree: goldenID(t, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
			Root: Node{Type: TypeDir, Mode: 0o755, UID: 0, GID: 0, Mtime: 5, Atime: 6, Ctime: 7,
				Xattrs: []Xattr{{Name: "user.root", Value: []byte("r")}}},
			Links: goldenID(t, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"),
			Files: 42, Size: 1 << 40,
			Parent: "0123456789abcdef0123456789abcdef",
		},
		{ // the first snapshot of an empty repository: zero values
			Time: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			Tree: goldenID(t, "0000000000000000000000000000000000000000000000000000000000000000"),
			Root: Node{Type: TypeDir},
		},
	}
}

var goldenSnapshotJSON = []string{
	`{"time":"2026-12-01T19:31:03.123456789Z","host":"web1.example.org","tags":["nightly","pre-upgrade"],` +
		`"tree":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",` +
		`"root":{"name":"","type":"dir","mode":493,"uid":0,"gid":0,"mtime":5,"atime":6,"ctime":7,"xattrs":[{"name":"user.root","value":"cg=="}]},` +
		`"links":"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100","files":42,"size":1099511627776,` +
		`"parent":"0123456789abcdef0123456789abcdef"}`,
	`{"time":"2000-01-01T00:00:00Z","host":"","tree":"0000000000000000000000000000000000000000000000000000000000000000",` +
		`"root":{"name":"","type":"dir","mode":0,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0},"files":0,"size":0}`,
}

func TestGoldenTreeEncoding(t *testing.T) {
	tree := goldenTree(t)
	got, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenTreeJSON {
		t.Errorf("tree encoding changed:\n got %s\nwant %s", got, goldenTreeJSON)
	}
	if id := goldenKeys().BlockID([]byte(goldenTreeJSON)); id.String() != goldenTreeID {
		t.Errorf("tree ID under the golden keys: %s, want %s", id, goldenTreeID)
	}
	parsed, err := parseTree([]byte(goldenTreeJSON))
	if err != nil {
		t.Fatalf("parse the golden tree: %v", err)
	}
	if !reflect.DeepEqual(parsed, tree) {
		t.Errorf("the golden tree parses as\n%+v\nwant\n%+v", parsed, tree)
	}

	// SaveTree stores exactly these bytes (in whatever order the nodes
	// come) under the MAC of these bytes.
	r := testRepo(t)
	shuffled := goldenTree(t)
	n := shuffled.Nodes
	n[0], n[len(n)-1] = n[len(n)-1], n[0]
	id, err := r.SaveTree(context.Background(), shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.keys.BlockID([]byte(goldenTreeJSON)); id != want {
		t.Errorf("SaveTree's ID %s is not the MAC of the golden bytes, %s", id, want)
	}
	stored, err := r.ReadBlock(context.Background(), TreeBlock, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored) != goldenTreeJSON {
		t.Errorf("SaveTree stored\n%s\nwant\n%s", stored, goldenTreeJSON)
	}
}

func TestGoldenLinkTableEncoding(t *testing.T) {
	lt := LinkTable{1: 2, 0x8000000000000001: 3, 1<<64 - 1: 4294967295}
	r := testRepo(t)
	id, err := r.SaveLinks(context.Background(), lt)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := r.ReadBlock(context.Background(), TreeBlock, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored) != goldenLinksJSON {
		t.Errorf("link table encoding changed:\n got %s\nwant %s", stored, goldenLinksJSON)
	}
	if id != r.keys.BlockID([]byte(goldenLinksJSON)) {
		t.Error("SaveLinks's ID is not the MAC of its bytes")
	}
	if gid := goldenKeys().BlockID([]byte(goldenLinksJSON)); gid.String() != goldenLinksID {
		t.Errorf("link table ID under the golden keys: %s, want %s", gid, goldenLinksID)
	}
	back, err := r.LoadLinks(context.Background(), id)
	if err != nil || !reflect.DeepEqual(back, lt) {
		t.Errorf("link table read back as %v (%v), want %v", back, err, lt)
	}
}

func TestGoldenSnapshotEncoding(t *testing.T) {
	r := testRepo(t)
	for i, s := range goldenSnapshots(t) {
		got, err := marshalSnapshot(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != goldenSnapshotJSON[i] {
			t.Errorf("snapshot %d encoding changed:\n got %s\nwant %s", i, got, goldenSnapshotJSON[i])
		}
		parsed, err := parseSnapshot([]byte(goldenSnapshotJSON[i]))
		if err != nil {
			t.Fatalf("parse golden snapshot %d: %v", i, err)
		}
		want := *s
		want.ID = ""
		if !reflect.DeepEqual(parsed, &want) {
			t.Errorf("golden snapshot %d parses as\n%+v\nwant\n%+v", i, parsed, &want)
		}

		// SaveSnapshot seals exactly these bytes.
		if err := r.SaveSnapshot(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		key := snapshotPrefix + s.ID
		sealed, err := r.store.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, "snapshot", key))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain, []byte(goldenSnapshotJSON[i])) {
			t.Errorf("SaveSnapshot sealed\n%s\nwant\n%s", plain, goldenSnapshotJSON[i])
		}
	}
}

// goldenBackupTreeJSON is a tree as `coffer backup` writes it: the
// source's inode and change time follow every other field of a file, and
// are left out when zero (so goldenTreeJSON, which has none, is a mount's
// tree unchanged by their addition).
const goldenBackupTreeJSON = `{"nodes":[` +
	`{"name":"f","type":"file","mode":420,"uid":0,"gid":0,"size":3,"mtime":10,"atime":11,"ctime":12,"blocks":[{"id":"0101010101010101010101010101010101010101010101010101010101010101","len":3}],"link":7,"src_ino":1234567,"src_ctime":12},` +
	`{"name":"g","type":"file","mode":420,"uid":0,"gid":0,"mtime":0,"atime":0,"ctime":0,"src_ino":18446744073709551615,"src_ctime":-5}]}`

// goldenBackupTreeID is goldenKeys().BlockID(goldenBackupTreeJSON).
const goldenBackupTreeID = "2e8516f507128da2ae52e44d8d165c291a69ad84e597649fb4dde3d1c1c05304"

func TestGoldenBackupTreeEncoding(t *testing.T) {
	blockA := goldenID(t, "0101010101010101010101010101010101010101010101010101010101010101")
	tree := &Tree{Nodes: []Node{
		{Name: "f", Type: TypeFile, Mode: 0o644, Size: 3, Mtime: 10, Atime: 11, Ctime: 12,
			Blocks: []BlockRef{{ID: blockA, Len: 3}}, Link: 7, SrcIno: 1234567, SrcCtime: 12},
		{Name: "g", Type: TypeFile, Mode: 0o644, SrcIno: 1<<64 - 1, SrcCtime: -5},
	}}
	got, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenBackupTreeJSON {
		t.Errorf("backup tree encoding changed:\n got %s\nwant %s", got, goldenBackupTreeJSON)
	}
	if id := goldenKeys().BlockID([]byte(goldenBackupTreeJSON)); id.String() != goldenBackupTreeID {
		t.Errorf("backup tree ID under the golden keys: %s, want %s", id, goldenBackupTreeID)
	}
	parsed, err := parseTree([]byte(goldenBackupTreeJSON))
	if err != nil {
		t.Fatalf("parse the golden backup tree: %v", err)
	}
	if !reflect.DeepEqual(parsed, tree) {
		t.Errorf("the golden backup tree parses as\n%+v\nwant\n%+v", parsed, tree)
	}
}
