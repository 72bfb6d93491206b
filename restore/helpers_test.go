package restore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"coffer/chunker"
	"coffer/objectstore"
	"coffer/objectstore/memory"
	"coffer/repo"
)

type testRepo struct {
	st     *memory.Store
	secret repo.Secret
	r      *repo.Repository
}

// newTestRepo is a repository over a memory store without retention,
// with small chunks and packs so even small files span blocks and packs.
func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tr := &testRepo{st: memory.New(time.Now), secret: repo.Secret{KeyFile: key}}
	if _, err := repo.Init(context.Background(), tr.st, tr.secret, repo.InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, Now: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	tr.r = tr.open(t)
	return tr
}

func (tr *testRepo) open(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), tr.st, tr.secret, repo.Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// file stores data and returns a file node for it.
func (tr *testRepo) file(t *testing.T, name string, data []byte) repo.Node {
	t.Helper()
	ctx := context.Background()
	w := tr.r.NewFileWriter()
	if err := w.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	refs, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return repo.Node{Name: name, Type: repo.TypeFile, Mode: 0o644, UID: 1234, GID: 5678, Size: uint64(len(data)),
		Mtime: stamp(1), Atime: stamp(2), Blocks: refs}
}

// dir stores a tree of nodes and returns a directory node for it.
func (tr *testRepo) dir(t *testing.T, name string, nodes ...repo.Node) repo.Node {
	t.Helper()
	var files, size uint64
	for _, n := range nodes {
		files += n.Files
		size += n.Bytes
		if n.Type == repo.TypeFile {
			files++
			size += n.Size
		}
	}
	id, err := tr.r.SaveTree(context.Background(), &repo.Tree{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	return repo.Node{Name: name, Type: repo.TypeDir, Mode: 0o755, UID: 1234, GID: 5678, Mtime: stamp(3), Atime: stamp(4),
		Subtree: id, Files: files, Bytes: size}
}

// snapshot commits root (a dir node) as a snapshot.
func (tr *testRepo) snapshot(t *testing.T, root repo.Node) *repo.Snapshot {
	t.Helper()
	s := &repo.Snapshot{Time: time.Now(), Host: "test", Tree: root.Subtree, Root: root, Files: root.Files, Size: root.Bytes}
	s.Root.Subtree = cipher0
	if err := tr.r.SaveSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// stamp is a distinct old time with nanoseconds.
func stamp(i int) int64 {
	return time.Date(1999, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i)*time.Hour + 123456789).UnixNano()
}

func randData(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// checkTree fails the test unless the directory at disk holds exactly
// what tree id lists, bytes and metadata (what the tree lists; extra
// names on disk are reported too).
func checkTree(t *testing.T, r *repo.Repository, id [32]byte, disk string) {
	t.Helper()
	tree, err := r.LoadTree(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(tree.Nodes) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want %d entries", disk, names, len(tree.Nodes))
	}
	for _, n := range tree.Nodes {
		full := filepath.Join(disk, n.Name)
		checkNode(t, r, n, full)
		if n.Type == repo.TypeDir {
			checkTree(t, r, n.Subtree, full)
		}
	}
}

// checkNode compares one entry's metadata (and a file's bytes) with n.
func checkNode(t *testing.T, r *repo.Repository, n repo.Node, full string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		t.Errorf("%s: %v", full, err)
		return
	}
	types := map[repo.NodeType]uint32{repo.TypeFile: unix.S_IFREG, repo.TypeDir: unix.S_IFDIR, repo.TypeSymlink: unix.S_IFLNK,
		repo.TypeFIFO: unix.S_IFIFO, repo.TypeChar: unix.S_IFCHR, repo.TypeBlock: unix.S_IFBLK, repo.TypeSocket: unix.S_IFSOCK}
	if st.Mode&unix.S_IFMT != types[n.Type] {
		t.Errorf("%s: type %o, want %s", full, st.Mode&unix.S_IFMT, n.Type)
		return
	}
	if n.Type != repo.TypeSymlink && st.Mode&0o7777 != n.Mode {
		t.Errorf("%s: mode %04o, want %04o", full, st.Mode&0o7777, n.Mode)
	}
	if st.Uid != n.UID || st.Gid != n.GID {
		t.Errorf("%s: owner %d:%d, want %d:%d", full, st.Uid, st.Gid, n.UID, n.GID)
	}
	if got := st.Mtim.Nano(); got != n.Mtime {
		t.Errorf("%s: mtime %v, want %v", full, time.Unix(0, got).UTC(), time.Unix(0, n.Mtime).UTC())
	}
	switch n.Type {
	case repo.TypeFile:
		got, err := os.ReadFile(full)
		if err != nil {
			t.Error(err)
			return
		}
		if want := fileBytes(t, r, n); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the snapshot's %d", full, len(got), len(want))
		}
	case repo.TypeSymlink:
		if got, _ := os.Readlink(full); got != n.Target {
			t.Errorf("%s: symlink to %q, want %q", full, got, n.Target)
		}
	case repo.TypeChar, repo.TypeBlock:
		if st.Rdev != n.Rdev {
			t.Errorf("%s: device %x, want %x", full, st.Rdev, n.Rdev)
		}
	}
	if n.Type != repo.TypeSymlink {
		for _, a := range n.Xattrs {
			buf := make([]byte, 4096)
			k, err := unix.Lgetxattr(full, a.Name, buf)
			if err != nil || !bytes.Equal(buf[:k], a.Value) {
				t.Errorf("%s: xattr %s = %q, %v; want %q", full, a.Name, buf[:max(k, 0)], err, a.Value)
			}
		}
	}
}

func fileBytes(t *testing.T, r *repo.Repository, n repo.Node) []byte {
	t.Helper()
	fr := r.NewFileReader(n.Blocks)
	buf := make([]byte, fr.Size())
	if _, err := fr.ReadAt(context.Background(), buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf
}

// damagePacks corrupts every block of each pack not in since (their
// first versions, which are what reads use), the way a failing disk
// would, and returns their keys.
func (tr *testRepo) damagePacks(t *testing.T, since map[string]bool) []string {
	t.Helper()
	ctx := context.Background()
	var damaged []string
	err := tr.st.List(ctx, "data/", func(i objectstore.Info) error {
		if since[i.Key] {
			return nil
		}
		damaged = append(damaged, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range damaged {
		b, err := tr.st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Clone(b)
		for i := 0; i < len(b)-64; i += 512 {
			b[i+32] ^= 0xff // in every block of the pack
		}
		if err := tr.st.Delete(ctx, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := tr.st.Put(ctx, key, b, objectstore.Retention{}); err != nil {
			t.Fatal(err)
		}
	}
	return damaged
}

func (tr *testRepo) packs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := tr.st.List(context.Background(), "data/", func(i objectstore.Info) error {
		out[i.Key] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
