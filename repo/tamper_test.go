package repo

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coffer/cipher"
)

// TestTamperedPackIsAnError: a flipped byte inside a stored block makes
// reading that block fail with cipher.ErrAuth, never return other bytes.
func TestTamperedPackIsAnError(t *testing.T) {
	ctx := context.Background()
	r, dir := localRepo(t, "pw")
	refs := writeFile(t, r, randBytes(9, 100_000))
	var packs []string
	_ = filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, "@obj") {
			packs = append(packs, p)
		}
		return err
	})
	if len(packs) != 1 {
		t.Fatalf("want one pack, found %d", len(packs))
	}
	// Flip a byte in the middle of the block (past the object header).
	path := packs[0]
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[64+50_000] ^= 1
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A fresh repository handle, so no cache holds the block.
	r2, err := Open(ctx, r.store, Secret{Passphrase: []byte("pw")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	_, err = r2.ReadBlock(ctx, DataBlock, refs[0].ID)
	if !errors.Is(err, cipher.ErrAuth) {
		t.Fatalf("reading a tampered block: %v, want cipher.ErrAuth", err)
	}
}
