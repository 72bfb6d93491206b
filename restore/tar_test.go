package restore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"coffer/repo"
	"coffer/restore"
)

// TestWriteTar reads back what WriteTar wrote: every entry once per path
// (both twins), headers with the snapshot's metadata to the nanosecond,
// hard links as links, xattrs and the ACL as GNU tar keeps them, each
// directory's members right after its header, and the bytes.
func TestWriteTar(t *testing.T) {
	tr := newTestRepo(t)
	root := sampleTree(t, tr)
	sock := repo.Node{Name: "sock", Type: repo.TypeSocket, Mode: 0o755}
	root = tr.dir(t, "/", append(treeNodes(t, tr.r, root), sock)...)
	s := tr.snapshot(t, root)
	node, err := tr.r.LookupPath(context.Background(), s, "/")
	must(t, err)
	var buf bytes.Buffer
	var problems []string
	err = restore.WriteTar(context.Background(), tr.r, node, &buf, func(p string, err error) { problems = append(problems, p) })
	if !errors.Is(err, restore.ErrIncomplete) || len(problems) != 1 || problems[0] != "/sock" {
		t.Errorf("tar of a tree with a socket: %v, problems %v; want ErrIncomplete naming /sock", err, problems)
	}
	rd := tar.NewReader(&buf)
	got := map[string]*tar.Header{}
	var order []string
	for {
		h, err := rd.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got[h.Name] = h
		order = append(order, h.Name)
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(rd)
			must(t, err)
			want := fileBytesAt(t, tr.r, s, h.Name)
			if !bytes.Equal(data, want) {
				t.Errorf("%s: %d bytes in the archive, want %d", h.Name, len(data), len(want))
			}
		}
	}
	for _, name := range []string{"./", "big", "sub/", "sub/twin/", "sub/twin/same", "twin/", "twin/same", "null", "fifo", "sub/link"} {
		if got[name] == nil {
			t.Errorf("archive lacks %s (has %v)", name, order)
		}
	}
	if h := got["big"]; h != nil && (h.Uid != 1234 || h.Gid != 5678 || h.Mode != 0o644 || !h.ModTime.Equal(time.Unix(0, stamp(1))) ||
		h.PAXRecords["SCHILY.xattr.user.a"] != "one\x00two") {
		t.Errorf("big: header %+v", h)
	}
	if h := got["suid"]; h != nil && h.Mode != 0o4755 {
		t.Errorf("suid: mode %o", h.Mode)
	}
	if h := got["acl"]; h != nil && h.PAXRecords["SCHILY.acl.access"] != "user::rw-,user:4321:r--,group::r--,mask::r--,other::---" {
		t.Errorf("acl: PAX records %q", h.PAXRecords)
	}
	if h := got["sub/linked-too"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "linked" {
		t.Errorf("second name of a hard link: %+v, want a link to linked", h)
	}
	if h := got["null"]; h != nil && (h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3) {
		t.Errorf("null: %+v", h)
	}
	// A directory's members follow its header without a break.
	seenDir := ""
	for _, name := range order {
		if name == "sub/" {
			seenDir = name
		} else if seenDir == "sub/" && !bytes.HasPrefix([]byte(name), []byte("sub/")) {
			seenDir = "left"
		} else if seenDir == "left" && bytes.HasPrefix([]byte(name), []byte("sub/")) {
			t.Errorf("sub/'s member %s comes after other entries: %v", name, order)
		}
	}
}

func treeNodes(t *testing.T, r *repo.Repository, dir repo.Node) []repo.Node {
	t.Helper()
	tree, err := r.LoadTree(context.Background(), dir.Subtree)
	must(t, err)
	return tree.Nodes
}

func fileBytesAt(t *testing.T, r *repo.Repository, s *repo.Snapshot, name string) []byte {
	t.Helper()
	n, err := r.LookupPath(context.Background(), s, name)
	must(t, err)
	return fileBytes(t, r, n)
}

// TestDumpFileDamaged: a dump writes a damaged block as zeros, keeping
// the stream's length, reports it and ends with ErrIncomplete.
func TestDumpFileDamaged(t *testing.T) {
	tr := newTestRepo(t)
	before := tr.packs(t)
	n := tr.file(t, "f", randData(300_000))
	must(t, tr.r.Flush(context.Background()))
	tr.damagePacks(t, before)
	r := tr.open(t)
	var buf bytes.Buffer
	var problems []string
	err := restore.DumpFile(context.Background(), r, "/f", n, &buf, func(p string, err error) { problems = append(problems, p+": "+err.Error()) })
	if !errors.Is(err, restore.ErrIncomplete) || len(problems) == 0 {
		t.Fatalf("dump of a damaged file: %v %v, want ErrIncomplete and problems", err, problems)
	}
	if buf.Len() != 300_000 {
		t.Errorf("dump wrote %d bytes, want the file's 300000", buf.Len())
	}
	if !bytes.Contains([]byte(problems[0]), []byte("written as zeros")) {
		t.Errorf("problem %q", problems[0])
	}
}
