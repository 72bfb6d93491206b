package tests

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// markerForms are the byte strings that would betray the marker: itself,
// its hex, and its base64 in every alignment and both alphabets.
func markerForms(marker string) map[string][]byte {
	forms := map[string][]byte{
		"raw":       []byte(marker),
		"hex":       []byte(hex.EncodeToString([]byte(marker))),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString([]byte(marker)))),
		"lowercase": []byte(strings.ToLower(marker)),
	}
	for k := 0; k < 3; k++ {
		padded := append(bytes.Repeat([]byte{0}, k), marker...)
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			s := enc.EncodeToString(padded)
			// Keep the 4-character groups that only the marker determines.
			first := (k + 2) / 3
			last := (len(padded)) / 3 // groups wholly inside padded
			if last > first {
				forms[fmt.Sprintf("%s@%d", name, k)] = []byte(s[first*4 : last*4])
			}
		}
	}
	return forms
}

// findMarker walks dirs and reports every file name, file content, xattr
// name or xattr value that holds one of the forms.
func findMarker(t testing.TB, forms map[string][]byte, dirs ...string) []string {
	t.Helper()
	var hits []string
	check := func(what string, b []byte) {
		for form, f := range forms {
			if bytes.Contains(b, f) {
				hits = append(hits, fmt.Sprintf("%s (%s form)", what, form))
			}
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			check("path "+p, []byte(p))
			if d.Type()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				check("symlink target of "+p, []byte(target))
				return nil
			}
			if d.Type().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				check("contents of "+p, b)
			}
			xs, err := readXattrs(p)
			if err != nil {
				return err
			}
			for name, val := range xs {
				check("xattr name on "+p, []byte(name))
				check("xattr "+name+" on "+p, []byte(val))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("scanning %s: %v", dir, err)
		}
	}
	return hits
}

// TestNoPlaintext puts a random marker in file contents, file, directory and
// symlink names, xattr names and values and a snapshot tag, and then checks
// that the marker appears nowhere the backend or the cache keeps bytes.
func TestNoPlaintext(t *testing.T) {
	tool(t, "rsync")
	forEachBackend(t, func(t *testing.T, be *backend) {
		rng := newRand(t.Name())
		marker := "COFFERMARK" + hex.EncodeToString(randBytes(rng, 16))
		forms := markerForms(marker)

		src := filepath.Join(t.TempDir(), "src")
		dir := filepath.Join(src, "dir-"+marker, "sub")
		mkdirs(t, dir, ".")
		writeFile(t, filepath.Join(src, "small"), []byte(marker), 0o644)
		writeFile(t, filepath.Join(src, "repeated"), bytes.Repeat([]byte(marker+"\n"), 100), 0o644)
		var large bytes.Buffer
		for large.Len() < 5*mib {
			large.Write(randBytes(rng, 1000))
			large.WriteString(marker)
		}
		writeFile(t, filepath.Join(src, "large"), large.Bytes(), 0o644)
		// Highly compressible and dedupable: many equal chunks.
		writeFile(t, filepath.Join(src, "zeros-and-marker"),
			append(make([]byte, 3*mib), marker...), 0o644)
		writeFile(t, filepath.Join(dir, "file-"+marker+".txt"), []byte("named\n"), 0o644)
		writeFile(t, filepath.Join(src, marker), nil, 0o644)
		must(t, os.Symlink("target-"+marker, filepath.Join(src, "link")))
		setxattr(t, filepath.Join(src, "small"), "user.note", "value "+marker)
		setxattr(t, filepath.Join(src, "small"), "user."+marker, "name")
		setxattr(t, filepath.Join(src, "dir-"+marker), "user.dir", marker)

		r := newRepo(t, be)
		// coffer mount has no --cache-dir; whatever it caches or stages on
		// disk goes under HOME, XDG_CACHE_HOME or TMPDIR, which the harness
		// points into r.home.
		m := r.mount(t)
		rsyncInto(t, src, filepath.Join(m.dir, "data"))
		assertRsyncClean(t, "head", src, filepath.Join(m.dir, "data"))
		where := append([]string{r.home}, be.dataDirs...)
		// While mounted: whatever is staged or cached must be ciphertext.
		if hits := findMarker(t, forms, where...); len(hits) > 0 {
			t.Errorf("plaintext found while mounted:\n  %s", strings.Join(hits, "\n  "))
		}
		m.snapshot(t, "--tag", "tag-"+marker)
		assertRsyncClean(t, "snapshot", src, filepath.Join(m.dir, ".snapshots", "latest", "data"))
		m.umount(t)
		// Listing snapshots decrypts the tag, so the marker is really stored.
		found := false
		for _, s := range r.snapshots(t) {
			for _, tag := range s.Tags {
				found = found || tag == "tag-"+marker
			}
		}
		if !found {
			t.Errorf("the snapshot's tag did not survive")
		}
		if hits := findMarker(t, forms, where...); len(hits) > 0 {
			t.Errorf("plaintext found after umount:\n  %s", strings.Join(hits, "\n  "))
		}
		// The scan itself must see the marker where it is in the clear.
		if hits := findMarker(t, forms, src); len(hits) == 0 {
			t.Fatalf("the scan finds no marker in the source tree; the check is broken")
		}
	})
}
