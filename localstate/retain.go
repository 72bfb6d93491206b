package localstate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrBadRetain reports a retention file that cannot be used: damaged, of
// another format version, or written for another repository. The caller
// starts from nothing (each needed object is extended once), and the
// next Save replaces the file.
var ErrBadRetain = errors.New("retention file unusable")

// RetainEntry is what the retention file remembers of one object: the
// version ID of the version coffer keeps locked, and the retain-until
// date coffer set on it or observed.
type RetainEntry struct {
	Version string
	Until   time.Time
}

// retainMagic is the file's first line; the number is its format
// version, changed whenever the layout below changes.
const retainMagic = "coffer-retain 1"

// Retain is the file "retain" in the state directory: the retain-until
// date of every object the repository keeps locked, so a restarted
// daemon extends only what is due. Its layout, one record a line:
//
//	coffer-retain 1
//	repository <repository ID, hex>
//	<until, RFC 3339 UTC> <version ID> <object key>
//
// A nil *Retain (--cache-dir off) holds nothing and saves nothing.
type Retain struct {
	path string
}

// Retain is the state directory's retention file.
func (d *Dir) Retain() *Retain {
	if d == nil {
		return nil
	}
	return &Retain{path: filepath.Join(d.root, "retain")}
}

// Load returns the entries saved for the repository repoID (hex), none
// if the file does not exist. A file that cannot be used yields no
// entries and an error wrapping ErrBadRetain.
func (f *Retain) Load(repoID string) (map[string]RetainEntry, error) {
	if f == nil {
		return nil, nil
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retention file %s: %w", f.path, err)
	}
	entries, err := parseRetain(data, repoID)
	if err != nil {
		return nil, fmt.Errorf("retention file %s: %w: %s", f.path, ErrBadRetain, err.Error())
	}
	return entries, nil
}

func parseRetain(data []byte, repoID string) (map[string]RetainEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != retainMagic {
		return nil, errors.New("not a coffer-retain 1 file")
	}
	if !sc.Scan() || sc.Text() != "repository "+repoID {
		return nil, errors.New("written for another repository")
	}
	entries := map[string]RetainEntry{}
	for n := 3; sc.Scan(); n++ {
		until, rest, ok1 := strings.Cut(sc.Text(), " ")
		version, key, ok2 := strings.Cut(rest, " ")
		t, err := time.Parse(time.RFC3339Nano, until)
		if !ok1 || !ok2 || err != nil || version == "" || key == "" {
			return nil, fmt.Errorf("line %d is not <until> <version> <key>", n)
		}
		entries[key] = RetainEntry{Version: version, Until: t}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		return nil, errors.New("truncated")
	}
	return entries, nil
}

// Save replaces the file atomically with entries for the repository
// repoID (hex). An entry that the layout cannot hold (a version ID with
// a space, a key with a line break, no date) is left out: it is only
// extended again.
func (f *Retain) Save(repoID string, entries map[string]RetainEntry) error {
	if f == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString(retainMagic + "\nrepository " + repoID + "\n")
	for k, e := range entries {
		if e.Version == "" || e.Until.IsZero() || k == "" ||
			strings.ContainsAny(e.Version, " \n\r") || strings.ContainsAny(k, "\n\r") {
			continue
		}
		b.WriteString(e.Until.UTC().Format(time.RFC3339Nano) + " " + e.Version + " " + k + "\n")
	}
	if err := WriteFile(f.path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("retention file %s: %w", f.path, err)
	}
	return nil
}
