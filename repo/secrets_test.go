package repo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestNoSecretsAtRest: neither the passphrase nor the master key, in any
// common encoding, appears in any file of a local repository.
func TestNoSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	pass := []byte("correct horse battery staple")
	r, dir := localRepo(t, string(pass))
	if _, err := r.AddSlot(ctx, Secret{Passphrase: []byte("second passphrase"), KDF: testKDF}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, r, bytes.Repeat([]byte("plaintext marker "), 1000))
	mk := r.master[:]
	forbidden := map[string][]byte{
		"passphrase":        pass,
		"second passphrase": []byte("second passphrase"),
		"master key":        mk,
		"master key hex":    []byte(hex.EncodeToString(mk)),
		"master key base64": []byte(base64.StdEncoding.EncodeToString(mk)),
		"file contents":     []byte("plaintext marker"),
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, b := range forbidden {
			if bytes.Contains(data, b) {
				t.Errorf("%s found in %s", what, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 {
		t.Fatalf("only %d files in the repository: the test saw nothing", files)
	}
}
