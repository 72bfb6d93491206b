package localstate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is one repository's local state directory (the mount's --cache-dir):
//
//	blocks/  sealed blocks read from S3 (the disk cache)
//	head     the sealed head checkpoint, for crash resume
//	seen     the snapshot IDs seen at the last mount, one per line
//	source-id  this server's identity in the audit log (SourceID)
//	retain   the retain-until dates coffer set, so a restart extends only what is due (Retain)
//
// A nil *Dir is "--cache-dir off": no checkpoint, no disk cache, nothing
// remembered.
type Dir struct {
	root string
}

// DefaultRoot is the state directory of the repository at location when
// --cache-dir is not given: one directory per location under the user's
// cache directory ($XDG_CACHE_HOME/coffer or ~/.cache/coffer).
func DefaultRoot(location string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(location))
	return filepath.Join(base, "coffer", hex.EncodeToString(sum[:8])), nil
}

// OpenDir makes (if needed) and opens the state directory root.
func OpenDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	return &Dir{root: root}, nil
}

// Root is the directory's path, "" for a nil Dir.
func (d *Dir) Root() string {
	if d == nil {
		return ""
	}
	return d.root
}

// Blocks is the directory of the disk cache of sealed blocks.
func (d *Dir) Blocks() string { return filepath.Join(d.root, "blocks") }

// Checkpoint is the head checkpoint file. When the disk is full, makeRoom
// (if not nil) is asked to free at least need bytes of cache, and returns
// how many it freed: the checkpoint has priority over cached blocks.
func (d *Dir) Checkpoint(makeRoom func(need int64) int64) *Checkpoint {
	if d == nil {
		return nil
	}
	return &Checkpoint{path: filepath.Join(d.root, "head"), makeRoom: makeRoom, write: WriteFile}
}

// LastSeen returns the snapshot IDs recorded by the previous SaveSeen, and
// false if none were ever recorded (a first mount, or --cache-dir off).
func (d *Dir) LastSeen() ([]string, bool, error) {
	if d == nil {
		return nil, false, nil
	}
	data, err := os.ReadFile(filepath.Join(d.root, "seen"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("last seen snapshots: %w", err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, true, nil
}

// SaveSeen records the snapshot IDs seen now, for the next LastSeen.
func (d *Dir) SaveSeen(ids []string) error {
	if d == nil {
		return nil
	}
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	if err := WriteFile(filepath.Join(d.root, "seen"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("last seen snapshots: %w", err)
	}
	return nil
}
