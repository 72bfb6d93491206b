package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"os"
	"syscall"
	"testing"

	"coffer/cipher"
	"coffer/fs"
	"coffer/objectstore"
	"coffer/repo"
)

// intruder holds coffer's credentials and its key, and writes objects in
// the repository's format by hand (docs/FORMAT.md), as a script would.
type intruder struct {
	t    *testing.T
	st   objectstore.Store
	id   []byte
	keys *cipher.Keys
}

func newIntruder(t *testing.T, s *testStore, r *repo.Repository) *intruder {
	t.Helper()
	ctx := context.Background()
	var slot *cipher.Slot
	err := s.st.List(ctx, "keys/", func(i objectstore.Info) error {
		data, err := s.st.Get(ctx, i.Key)
		if err != nil {
			return err
		}
		slot, err = cipher.ParseSlot(data)
		return err
	})
	if err != nil || slot == nil {
		t.Fatalf("key slot: %v", err)
	}
	mk, err := slot.Unwrap(s.secret.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &intruder{t: t, st: s.st, id: r.ID(), keys: cipher.DeriveKeys(mk, r.ID())}
}

// put stores a new object; it accepts the Store's Put with or without
// the version ID result, so it keeps compiling across that change.
func (in *intruder) put(key string, data []byte) {
	in.t.Helper()
	ctx := context.Background()
	var err error
	switch s := any(in.st).(type) {
	case interface {
		Put(context.Context, string, []byte, objectstore.Retention) error
	}:
		err = s.Put(ctx, key, data, objectstore.Retention{})
	case interface {
		Put(context.Context, string, []byte, objectstore.Retention) (string, error)
	}:
		_, err = s.Put(ctx, key, data, objectstore.Retention{})
	default:
		in.t.Fatalf("store %T has no Put this test knows", in.st)
	}
	if err != nil {
		in.t.Fatal(err)
	}
}

// objectAD is FORMAT.md's associated data of a whole object.
func (in *intruder) objectAD(kind, key string) []byte {
	ad := append([]byte("coffer-object"), repo.FormatVersion)
	ad = append(append(append(ad, in.id...), kind...), 0)
	return append(ad, key...)
}

// plant seals forged as the data block whose real contents are real, in
// a new pack with a valid trailer, named by a new index.
func (in *intruder) plant(real, forged []byte) {
	id := in.keys.BlockID(real)
	ad := append([]byte("coffer-block"), repo.FormatVersion)
	ad = append(append(append(ad, in.id...), byte(repo.DataBlock)), id[:]...)
	sealed := in.keys.Contents().Seal(nil, forged, ad)
	var pack, name [16]byte
	_, _ = rand.Read(pack[:])
	_, _ = rand.Read(name[:])
	entries := append([]byte("CIX1"), id[:]...)
	entries = append(append(entries, byte(repo.DataBlock)), pack[:]...)
	entries = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(entries, 0), uint32(len(sealed)))
	p := hex.EncodeToString(pack[:])
	packKey := "data/" + p[:2] + "/" + p
	trailer := in.keys.Metadata().Seal(nil, entries, in.objectAD("pack", packKey))
	body := append(append(sealed, trailer...), binary.BigEndian.AppendUint32(nil, uint32(len(trailer)))...)
	in.put(packKey, body)
	indexKey := "index/" + hex.EncodeToString(name[:])
	in.put(indexKey, in.keys.Metadata().Seal(nil, entries, in.objectAD("index", indexKey)))
}

// TestInprocForgedBlocks: an intruder holding the key forges a block of an
// old snapshot in a new pack and index; the snapshot still reads back
// byte-identical through the mount. A block whose only copy is forged
// (planted before its contents were first stored, by someone who knew
// them) reads as EIO, never the forged bytes, and is reported.
func TestInprocForgedBlocks(t *testing.T) {
	s := newTestStore(t)
	m := s.mountHead(t, fs.HeadOptions{})
	old := []byte("an old file, stored before the intruder came\n")
	writeFile(t, m.path("old"), old, 0o644)
	snap, _ := m.commit()
	in := newIntruder(t, s, m.r)
	in.plant(old, []byte("the intruder's version of the old file, same length"[:len(old)]))
	predicted := []byte("a file the intruder knew would be written\n")
	in.plant(predicted, bytes.Repeat([]byte("x"), len(predicted)))
	m.unmount()

	m = s.mountHead(t, fs.HeadOptions{})
	writeFile(t, m.path("new"), predicted, 0o644)
	snap2, _ := m.commit()
	m.unmount()

	v := s.mountSnapshot(t, snap)
	if got := readFile(t, v.path("old")); !bytes.Equal(got, old) {
		t.Fatalf("old snapshot's file read %q, want %q", got, old)
	}
	v2 := s.mountSnapshot(t, snap2)
	got, err := os.ReadFile(v2.path("new"))
	wantErrno(t, "reading a block whose only copy is forged", err, syscall.EIO)
	if bytes.Contains(got, []byte("x")) {
		t.Fatalf("forged bytes served: %q", got)
	}
	forged := 0
	for _, b := range v2.r.BadLocations() {
		if b.Forged {
			forged++
		}
	}
	if forged != 1 {
		t.Fatalf("forged locations reported: %v, want one", v2.r.BadLocations())
	}
}
