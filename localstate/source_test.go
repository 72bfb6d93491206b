package localstate

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSourceIDIsMadeOnceAndKept(t *testing.T) {
	root := t.TempDir()
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.SourceID()
	if err != nil || len(id) != 32 {
		t.Fatalf("SourceID = %q, %v", id, err)
	}
	d2, _ := OpenDir(root)
	if again, err := d2.SourceID(); err != nil || again != id {
		t.Fatalf("second SourceID = %q, %v; want %q", again, err, id)
	}
	if other, _ := mustDir(t).SourceID(); other == id {
		t.Fatal("two state directories share a source ID")
	}
	if err := os.WriteFile(filepath.Join(root, sourceFile), []byte("nonsense"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SourceID(); err == nil {
		t.Fatal("a damaged source ID was accepted")
	}
	var none *Dir
	if id, err := none.SourceID(); id != "" || err != nil {
		t.Fatalf("nil Dir SourceID = %q, %v", id, err)
	}
}

func mustDir(t *testing.T) *Dir {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
