package cipher

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// keyFileHeader is the first line of every key file. It names the format
// so a stray file is not mistaken for a key, and warns whoever opens it.
const keyFileHeader = "# coffer key file v1: anyone holding this file can decrypt the repository"

// maxKeyFileSize bounds how much of a key file is read; a real one is
// under 200 bytes.
const maxKeyFileSize = 4096

// formatKeyFile returns the text of a key file holding key: the header
// line, then the key as 64 lowercase hex digits, each line ending in "\n".
func formatKeyFile(key []byte) []byte {
	out := make([]byte, 0, len(keyFileHeader)+2*len(key)+2)
	out = append(out, keyFileHeader...)
	out = append(out, '\n')
	out = hex.AppendEncode(out, key)
	return append(out, '\n')
}

// parseKeyFile returns the 32-byte key in the text of a key file. It
// accepts exactly what formatKeyFile writes, give or take upper-case hex,
// "\r\n" line ends and a missing final newline. Anything else fails with
// ErrFormat.
func parseKeyFile(data []byte) ([]byte, error) {
	header, rest, ok := bytes.Cut(data, []byte("\n"))
	if !ok || string(bytes.TrimSuffix(header, []byte("\r"))) != keyFileHeader {
		return nil, fmt.Errorf("%w: not a coffer key file (bad header line)", ErrFormat)
	}
	line, tail, _ := bytes.Cut(rest, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(tail) != 0 {
		return nil, fmt.Errorf("%w: key file has data after the key line", ErrFormat)
	}
	if len(line) != 2*KeySize {
		return nil, fmt.Errorf("%w: key file key line must be %d hex digits", ErrFormat, 2*KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, line); err != nil {
		return nil, fmt.Errorf("%w: key file key line is not hexadecimal", ErrFormat)
	}
	return key, nil
}

// GenerateKeyFile writes a new key file holding 32 fresh random bytes at
// path, with mode 0600, and makes it durable (file and directory fsync).
// It never overwrites: if path exists it fails with an error satisfying
// errors.Is(err, fs.ErrExist). On failure no partial file is left behind.
func GenerateKeyFile(path string) (err error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("cipher: reading random key-file key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cipher: creating key file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	// The umask can only clear bits, but a filesystem that ignores the
	// create mode would leave the key readable: set it explicitly.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("cipher: setting key file mode: %w", err)
	}
	if _, err := f.Write(formatKeyFile(key)); err != nil {
		return fmt.Errorf("cipher: writing key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cipher: syncing key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cipher: closing key file: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	return nil
}

// syncDir fsyncs a directory so a file just created in it survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cipher: opening key file directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cipher: syncing key file directory: %w", err)
	}
	return nil
}

// ReadKeyFile returns the 32-byte key stored in the key file at path. It
// refuses, with [ErrKeyFilePerm], a file whose mode grants any permission
// to group or others (mode&0077 != 0), before reading any of it, and fails
// with [ErrFormat] if the file is not a regular file in the key-file
// format.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cipher: opening key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the check applies to exactly
	// the file read.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cipher: inspecting key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: key file %s is not a regular file", ErrFormat, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o, want 0600 (chmod 600 %s)", ErrKeyFilePerm, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cipher: reading key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file is larger than %d bytes", ErrFormat, maxKeyFileSize)
	}
	key, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
