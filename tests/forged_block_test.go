package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"coffer/cipher"
	"coffer/doctor"
	"coffer/objectstore"
	crepo "coffer/repo"
)

// keyHolder is an intruder who holds coffer's credentials and its key:
// it opens the repository with coffer's own library, and writes packs and
// indexes by hand in the repository's format (docs/FORMAT.md).
type keyHolder struct {
	t    *testing.T
	st   objectstore.Store
	r    *crepo.Repository
	keys *cipher.Keys
}

func newKeyHolder(t *testing.T, r *repo, be *backend) *keyHolder {
	t.Helper()
	ctx := context.Background()
	st := storeOf(t, be)
	fileKey, err := cipher.ReadKeyFile(r.keyFile)
	must(t, err)
	rp, err := crepo.Open(ctx, st, crepo.Secret{KeyFile: fileKey}, crepo.Options{})
	must(t, err)
	t.Cleanup(rp.Close)
	var mk cipher.MasterKey
	for _, key := range listKeys(t, st, "keys/") {
		data, err := st.Get(ctx, key)
		must(t, err)
		slot, err := cipher.ParseSlot(data)
		if err != nil {
			continue
		}
		if mk, err = slot.Unwrap(fileKey); err == nil {
			return &keyHolder{t: t, st: st, r: rp, keys: cipher.DeriveKeys(mk, rp.ID())}
		}
	}
	t.Fatal("no key slot opens with the key file")
	return nil
}

// file returns the blocks of the file at path (one name) in the latest
// snapshot's root.
func (k *keyHolder) file(name string) []crepo.BlockRef {
	k.t.Helper()
	ctx := context.Background()
	s, err := k.r.FindSnapshot(ctx, "latest")
	must(k.t, err)
	tid, err := s.TreeID()
	must(k.t, err)
	tree, err := k.r.LoadTree(ctx, tid)
	must(k.t, err)
	for _, n := range tree.Nodes {
		if n.Name == name {
			return n.Blocks
		}
	}
	k.t.Fatalf("%s is not in the latest snapshot", name)
	return nil
}

func (k *keyHolder) objectAD(kind, key string) []byte {
	ad := append([]byte("coffer-object"), crepo.FormatVersion)
	ad = append(append(append(ad, k.r.ID()...), kind...), 0)
	return append(ad, key...)
}

// forge seals forged as data block id, with the associated data coffer
// checks, in a new pack with a valid trailer, named by a new index.
func (k *keyHolder) forge(id cipher.ID, forged []byte) {
	k.t.Helper()
	ad := append([]byte("coffer-block"), crepo.FormatVersion)
	ad = append(append(append(ad, k.r.ID()...), byte(crepo.DataBlock)), id[:]...)
	sealed := k.keys.Contents().Seal(nil, forged, ad)
	var pack, name [16]byte
	_, _ = rand.Read(pack[:])
	_, _ = rand.Read(name[:])
	entries := append([]byte("CIX1"), id[:]...)
	entries = append(append(entries, byte(crepo.DataBlock)), pack[:]...)
	entries = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(entries, 0), uint32(len(sealed)))
	p := hex.EncodeToString(pack[:])
	packKey := "data/" + p[:2] + "/" + p
	trailer := k.keys.Metadata().Seal(nil, entries, k.objectAD("pack", packKey))
	plant(k.t, k.st, packKey, append(append(sealed, trailer...), binary.BigEndian.AppendUint32(nil, uint32(len(trailer)))...))
	indexKey := "index/" + hex.EncodeToString(name[:])
	plant(k.t, k.st, indexKey, k.keys.Metadata().Seal(nil, entries, k.objectAD("index", indexKey)))
}

// TestForgedBlockNeverServed: an intruder holding the key forges every
// block of a file in an old snapshot (other bytes, sealed so that they
// authenticate, in a new pack named by a new index). The snapshot reads
// back byte-identical. A block whose only stored copy is forged (planted
// before its contents were first written, by someone who knew them)
// reads as EIO, never the forged bytes, and the mount's log names the
// tampering.
func TestForgedBlockNeverServed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		rng := newRand(t.Name())
		data := randBytes(rng, 3<<20)
		m := r.mount(t)
		putFile(t, filepath.Join(m.dir, "old"), data)
		m.snapshot(t)
		m.umount(t)

		k := newKeyHolder(t, r, be)
		for _, b := range k.file("old") {
			k.forge(b.ID, bytes.Repeat([]byte("F"), int(b.Len)))
		}
		predicted := randBytes(rng, 100_000)
		k.forge(k.keys.BlockID(predicted), bytes.Repeat([]byte("F"), len(predicted)))
		k.r.Close()

		m = r.mount(t)
		putFile(t, filepath.Join(m.dir, "new"), predicted)
		m.snapshot(t)
		m.umount(t)
		// A cold disk cache, so every block is read from the store.
		must(t, os.RemoveAll(filepath.Join(r.home, ".cache")))

		ro := r.mount(t, "--snapshot", "latest")
		if got, err := os.ReadFile(filepath.Join(ro.dir, "old")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the old file after forgery: err %v, identical %v", err, bytes.Equal(got, data))
		}
		got, err := os.ReadFile(filepath.Join(ro.dir, "new"))
		if !errors.Is(err, syscall.EIO) || bytes.Contains(got, []byte("FFFF")) {
			t.Fatalf("reading a block whose only copy is forged: %v (%d bytes), want EIO and no forged bytes", err, len(got))
		}
		ro.umount(t)
		if log := ro.log(); !strings.Contains(log, "TAMPERING") {
			t.Fatalf("the mount's log does not name the forgery:\n%s", log)
		}
		// doctor finds the forged copies of the old file's blocks, named
		// beside the real ones, without reading any file.
		rep, _ := doctorReport(t, r)
		res, ok := rep.Find(doctor.PromiseNoForgedBlocks)
		if !ok || res.Status != doctor.Broken || len(res.Items) == 0 {
			t.Fatalf("doctor on forged copies: %+v", res)
		}
	})
}
