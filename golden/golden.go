// Package golden compares a test's output with a file under testdata/,
// so output formats (the --json schemas) change only on purpose:
// `go test ./PKG/ -update` rewrites the files after a deliberate change,
// and the diff shows it in review. It is for tests only.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update is -update, registered in every test binary that imports this.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with testdata/name, after replacing each key of
// labels (a random ID, say) with its value; with -update it writes the
// file instead.
func Check(t testing.TB, name string, got []byte, labels map[string]string) {
	t.Helper()
	s := string(got)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, labels[k])
	}
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if s != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it after a deliberate change):\ngot:\n%s\nwant:\n%s", file, s, want)
	}
}
