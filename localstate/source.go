package localstate

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sourceFile holds this server's source ID in the state directory.
const sourceFile = "source-id"

// SourceID returns this server's identity in the audit log: 16 random
// bytes in hex, made on first use and kept in the state directory, so
// every record a server writes names the same source. A nil Dir (state
// kept nowhere) has no identity: "", nil.
func (d *Dir) SourceID() (string, error) {
	if d == nil {
		return "", nil
	}
	path := filepath.Join(d.root, sourceFile)
	data, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(data))
		if b, herr := hex.DecodeString(id); herr == nil && len(b) == 16 {
			return id, nil
		}
		return "", fmt.Errorf("source ID %s is damaged (remove it to make a new one): %q", path, id)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("source ID: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("source ID: %w", err)
	}
	return id, nil
}
