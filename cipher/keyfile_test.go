package cipher

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestGenerateAndReadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo.key")
	if err := GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %#o, want 0600", perm)
	}
	key, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize || bytes.Equal(key, make([]byte, KeySize)) {
		t.Errorf("key = %x", key)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte(keyFileHeader+"\n")) {
		t.Errorf("file does not start with the header: %q", data)
	}

	// The key opens what it wrapped.
	mk := goldenMasterKey()
	slot, err := WrapKeyFile(mk, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := slot.Unwrap(key); err != nil || got != mk {
		t.Errorf("Unwrap with the read key = %x, %v", got, err)
	}
}

func TestGenerateKeyFileRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo.key")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := GenerateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("GenerateKeyFile over an existing file: %v, want fs.ErrExist", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "precious" {
		t.Fatalf("existing file was changed to %q", data)
	}
}

func TestGenerateKeyFileIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "repo.key")
	if err := GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(path); err != nil {
		t.Fatalf("key file made with umask 0 is not readable: %v", err)
	}
}

func TestReadKeyFilePermissions(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "keyfile-v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode    os.FileMode
		wantErr error
	}{
		{0o600, nil},
		{0o400, nil},
		{0o700, nil},
		{0o644, ErrKeyFilePerm},
		{0o640, ErrKeyFilePerm},
		{0o604, ErrKeyFilePerm},
		{0o610, ErrKeyFilePerm},
		{0o601, ErrKeyFilePerm},
		{0o666, ErrKeyFilePerm},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(path, golden, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		key, err := ReadKeyFile(path)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("mode %#o: error = %v, want %v", tc.mode, err, tc.wantErr)
			continue
		}
		if tc.wantErr == nil && !bytes.Equal(key, goldenFileKey()) {
			t.Errorf("mode %#o: key = %x, want %x", tc.mode, key, goldenFileKey())
		}
		if tc.wantErr != nil && key != nil {
			t.Errorf("mode %#o: key returned with error", tc.mode)
		}
	}
}

func TestReadKeyFileRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadKeyFile(dir); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrKeyFilePerm) {
		t.Errorf("directory: %v, want ErrFormat or ErrKeyFilePerm", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(big); !errors.Is(err, ErrFormat) {
		t.Errorf("oversized file: %v, want ErrFormat", err)
	}
}

func TestParseKeyFile(t *testing.T) {
	const hexKey = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	h := keyFileHeader
	good := []string{
		h + "\n" + hexKey + "\n",
		h + "\n" + hexKey,
		h + "\r\n" + hexKey + "\r\n",
		h + "\n" + strings.ToUpper(hexKey) + "\n",
	}
	for _, in := range good {
		key, err := parseKeyFile([]byte(in))
		if err != nil || !bytes.Equal(key, goldenFileKey()) {
			t.Errorf("parseKeyFile(%q) = %x, %v", in, key, err)
		}
	}
	bad := map[string]string{
		"empty":              "",
		"header only":        h + "\n",
		"no header":          hexKey + "\n",
		"wrong header":       "# coffer key file v2\n" + hexKey + "\n",
		"short key":          h + "\n" + hexKey[:62] + "\n",
		"long key":           h + "\n" + hexKey + "00\n",
		"not hex":            h + "\n" + "zz" + hexKey[2:] + "\n",
		"trailing line":      h + "\n" + hexKey + "\n\n",
		"second key":         h + "\n" + hexKey + "\n" + hexKey + "\n",
		"leading space":      h + "\n " + hexKey[1:] + "\n",
		"raw binary":         string(goldenFileKey()),
		"header without eol": h,
	}
	for name, in := range bad {
		if _, err := parseKeyFile([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error = %v, want ErrFormat", name, err)
		}
	}
}
