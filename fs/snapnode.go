package fs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/repo"
)

// snapTimeout is how long the kernel may cache a snapshot's entries and
// attributes: they never change.
const snapTimeout = time.Hour

// snapshotTree is what every node of one snapshot shares.
type snapshotTree struct {
	r    *repo.Repository
	log  *slog.Logger
	ino  *atomic.Uint64
	snap *repo.Snapshot
	// ahead fetches the next small files' blocks while a copy reads.
	ahead *readAhead
	// alone: the snapshot is the whole mount (coffer mount --snapshot),
	// not one directory of a head's .snapshots.
	alone bool
	// walk loads the snapshot's directories ahead of its listings
	// (snapwalk.go), from root.
	walk snapWalk
	root *snapNode

	linksMu sync.Mutex
	links   repo.LinkTable // guarded by linksMu; nil until loaded
}

// snapNode is one read-only entry of a snapshot.
type snapNode struct {
	fusefs.Inode
	readOnly
	t *snapshotTree // nil for the "latest" symlink
	e repo.Node

	loadMu  sync.Mutex      // serialises loading the directory
	loaded  bool            // guarded by loadMu
	entries []fuse.DirEntry // guarded by loadMu; the listing once made, never changed

	mu     sync.Mutex
	reader *repo.FileReader // guarded by mu
}

var (
	_ = (fusefs.NodeGetattrer)((*snapNode)(nil))
	_ = (fusefs.NodeLookuper)((*snapNode)(nil))
	_ = (fusefs.NodeReaddirer)((*snapNode)(nil))
	_ = (fusefs.NodeOpendirHandler)((*snapNode)(nil))
	_ = (fusefs.NodeOpener)((*snapNode)(nil))
	_ = (fusefs.NodeReader)((*snapNode)(nil))
	_ = (fusefs.NodeReadlinker)((*snapNode)(nil))
	_ = (fusefs.NodeFlusher)((*snapNode)(nil))
	_ = (fusefs.NodeGetxattrer)((*snapNode)(nil))
	_ = (fusefs.NodeListxattrer)((*snapNode)(nil))
)

func newSnapRoot(r *repo.Repository, log *slog.Logger, ino *atomic.Uint64, s *repo.Snapshot) *snapNode {
	e := s.Root
	e.Type, e.Subtree = repo.TypeDir, s.Tree
	n := &snapNode{t: &snapshotTree{r: r, log: log, ino: ino, snap: s, ahead: newReadAhead(r)}, e: e}
	n.t.root = n
	return n
}

// NewSnapshotRoot returns the root of a read-only mount of one snapshot.
func NewSnapshotRoot(r *repo.Repository, log *slog.Logger, s *repo.Snapshot) fusefs.InodeEmbedder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var ino atomic.Uint64
	ino.Store(1)
	n := newSnapRoot(r, log, &ino, s)
	n.t.alone = true
	return n
}

func (n *snapNode) linkCount(ctx context.Context) uint32 {
	t := n.t
	t.linksMu.Lock()
	defer t.linksMu.Unlock()
	if t.links == nil {
		links, err := t.r.LoadLinks(ctx, t.snap.Links)
		if err != nil {
			t.log.Error("link counts unreadable", "snapshot", t.snap.ID, "err", err)
			return 1
		}
		t.links = links
	}
	if c := t.links[n.e.Link]; c > 0 {
		return c
	}
	return 1
}

func (n *snapNode) fillAttr(out *fuse.Attr) {
	e := &n.e
	out.Ino = n.StableAttr().Ino
	out.Mode = typeBits(e.Type) | e.Mode&07777
	out.Uid, out.Gid = e.UID, e.GID
	out.Size = e.Size
	if e.Type == repo.TypeSymlink {
		out.Size = uint64(len(e.Target))
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 1 << 20
	out.Rdev = uint32(e.Rdev)
	out.Nlink = 1
	if e.Link != 0 && n.t != nil {
		out.Nlink = n.linkCount(context.Background())
	}
	setTimes(out, e.Atime, e.Mtime, e.Ctime)
}

// Getattr reports the stored attributes.
func (n *snapNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(&out.Attr)
	out.SetTimeout(snapTimeout)
	return 0
}

// childIno gives hard-linked entries of one snapshot one inode number,
// so the kernel (and rsync -H, tar) see one file with several names.
func (n *snapNode) childIno(e *repo.Node) uint64 {
	if e.Link == 0 {
		return n.t.ino.Add(1)
	}
	h := sha256.New()
	h.Write([]byte(n.t.snap.ID))
	_ = binary.Write(h, binary.LittleEndian, e.Link)
	return binary.LittleEndian.Uint64(h.Sum(nil)) | 1<<63
}

// load adds a directory's entries as children once it succeeds; a failure
// (an interrupted caller, a store briefly away) is not remembered.
func (n *snapNode) load(ctx context.Context) syscall.Errno {
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if n.loaded {
		return 0
	}
	tree, err := n.t.r.LoadTree(ctx, n.e.Subtree)
	if err != nil {
		return toErrno(n.t.log, "load snapshot directory /"+n.Path(nil), err)
	}
	for _, e := range tree.Nodes {
		c := &snapNode{t: n.t, e: e}
		ch := n.NewPersistentInode(ctx, c, fusefs.StableAttr{Mode: typeBits(e.Type), Ino: n.childIno(&e)})
		n.AddChild(e.Name, ch, true)
	}
	n.loaded = true
	if !n.t.startWalk() {
		prefetchSubtrees(ctx, n.t.r, tree)
	}
	return 0
}

// Lookup finds an entry of a snapshot directory.
func (n *snapNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if n.e.Type != repo.TypeDir {
		return nil, syscall.ENOTDIR
	}
	if errno := n.load(ctx); errno != 0 {
		return nil, errno
	}
	ch := n.GetChild(name)
	if ch == nil {
		out.SetEntryTimeout(snapTimeout)
		return nil, syscall.ENOENT
	}
	ch.Operations().(*snapNode).fillAttr(&out.Attr)
	out.SetEntryTimeout(snapTimeout)
	out.SetAttrTimeout(snapTimeout)
	return ch, 0
}

// Readdir lists a snapshot directory.
func (n *snapNode) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	if errno := n.load(ctx); errno != 0 {
		return nil, errno
	}
	n.t.ahead.listed(n.EmbeddedInode(), n.e.Subtree)
	children := n.Children()
	entries := make([]fuse.DirEntry, 0, len(children))
	for name, ch := range children {
		entries = append(entries, fuse.DirEntry{Name: name, Mode: ch.StableAttr().Mode, Ino: ch.StableAttr().Ino})
	}
	return fusefs.NewListDirStream(entries), 0
}

// OpendirHandle lets the kernel keep a snapshot directory's listing: it
// never changes.
func (n *snapNode) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if errno := n.load(ctx); errno != 0 {
		return nil, 0, errno
	}
	n.t.ahead.listed(n.EmbeddedInode(), n.e.Subtree)
	return &dirList{entries: n.listing()}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// listing is the loaded directory's entries sorted by name, entry i
// with offset i+1, made once: on a mount without directory handles
// (Handleless) every chunk of a listing opens the directory anew.
func (n *snapNode) listing() []fuse.DirEntry {
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if n.entries != nil {
		return n.entries
	}
	children := n.Children()
	entries := make([]fuse.DirEntry, 0, len(children))
	for name, ch := range children {
		entries = append(entries, fuse.DirEntry{Name: name, Mode: ch.StableAttr().Mode, Ino: ch.StableAttr().Ino})
	}
	slices.SortFunc(entries, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	for i := range entries {
		entries[i].Off = uint64(i + 1)
	}
	n.entries = entries
	return entries
}

// dirList is an open snapshot directory: a fixed listing whose entry i
// has offset i+1, so the kernel can resume anywhere.
type dirList struct {
	mu      sync.Mutex
	entries []fuse.DirEntry // shared, never changed
	pos     int             // guarded by mu
}

var (
	_ = (fusefs.FileReaddirenter)((*dirList)(nil))
	_ = (fusefs.FileSeekdirer)((*dirList)(nil))
)

// Readdirent returns the next entry, or nil at the end.
func (d *dirList) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pos >= len(d.entries) {
		return nil, 0
	}
	e := d.entries[d.pos]
	d.pos++
	return &e, 0
}

// Seekdir continues after the entry with offset off.
func (d *dirList) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pos = int(min(off, uint64(len(d.entries))))
	return 0
}

// Open opens a snapshot file read-only; the kernel keeps its pages.
func (n *snapNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Read reads a snapshot file through the block cache. A read from the
// start tells the read-ahead where the reader is: on a mount of one
// snapshot files are read without being opened (Handleless), and a file
// whose pages the kernel kept is not read again.
func (n *snapNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off == 0 {
		n.t.ahead.reading(n)
	}
	n.mu.Lock()
	if n.reader == nil {
		n.reader = n.t.r.NewFileReader(n.e.Blocks)
	}
	rd := n.reader
	n.mu.Unlock()
	// The reply is written from the cached blocks themselves: no copy
	// into dest.
	parts, err := rd.Slices(ctx, off, len(dest))
	if err != nil {
		return nil, toErrno(n.t.log, "read", err)
	}
	if len(parts) == 1 {
		return fuse.ReadResultData(parts[0]), 0
	}
	return fuse.ReadResultVector(parts), 0
}

// Flush has nothing to do: a snapshot is never written. On a mount of
// one snapshot it answers ENOSYS, which tells the kernel to send no more
// flushes on this mount: a copy out of it (cp -a, rsync) then costs one
// round trip through the kernel less per file. Under a head's .snapshots
// the head's files share the mount and need their flushes.
func (n *snapNode) Flush(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	if n.t != nil && n.t.alone {
		return syscall.ENOSYS
	}
	return 0
}

// Readlink returns a symlink's target.
func (n *snapNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(n.e.Target), 0
}

// Getxattr reads a stored extended attribute. Once the walk found that
// no entry of a mounted snapshot has one, it answers ENOSYS, and the
// kernel asks no more (see snapwalk.go).
func (n *snapNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.t != nil && n.t.walk.noXattrs.Load() {
		return 0, syscall.ENOSYS
	}
	for _, x := range n.e.Xattrs {
		if x.Name == attr {
			return getXattr(x.Value, true, dest)
		}
	}
	return getXattr(nil, false, dest)
}

// Listxattr lists stored extended attribute names. Unlike Getxattr it
// never answers ENOSYS, though cp -a asks twice per entry: the kernel
// would then fail every listxattr with ENOTSUP, and GNU tar --xattrs
// warns of that once per file.
func (n *snapNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	names := make([]string, 0, len(n.e.Xattrs))
	for _, x := range n.e.Xattrs {
		names = append(names, x.Name)
	}
	return listXattrs(names, dest)
}

// maxTreePrefetch bounds how many subdirectories of one directory are
// fetched ahead.
const maxTreePrefetch = 32

// prefetchSubtrees starts loading the tree blocks of a directory's first
// subdirectories: whoever lists a directory (ls -R, find, rsync, du)
// usually descends next, and the fetches then overlap the kernel's calls.
func prefetchSubtrees(ctx context.Context, r *repo.Repository, t *repo.Tree) {
	n := 0
	for i := range t.Nodes {
		if t.Nodes[i].Type != repo.TypeDir || n == maxTreePrefetch {
			continue
		}
		r.Prefetch(ctx, repo.TreeBlock, t.Nodes[i].Subtree) // parseTree checked it is set
		n++
	}
}
