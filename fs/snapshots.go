package fs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"coffer/repo"
)

// snapshotsDir is .snapshots: one read-only directory per snapshot, named
// by its UTC time (repo.NameSnapshots), and "latest", a symlink to the
// newest.
type snapshotsDir struct {
	fusefs.Inode
	readOnly
	r    *repo.Repository
	log  *slog.Logger
	ino  *atomic.Uint64
	once sync.Once

	mu     sync.Mutex
	snaps  []*repo.Snapshot          // guarded by mu; oldest first
	names  map[string]*repo.Snapshot // guarded by mu; directory name → snapshot
	latest string                    // guarded by mu
	listed time.Time                 // guarded by mu; last listing of the store
	roots  map[string]*fusefs.Inode  // guarded by mu; snapshot roots by ID
	links  map[string]uint64         // guarded by mu; "latest" inode per target
}

var (
	_ = (fusefs.NodeLookuper)((*snapshotsDir)(nil))
	_ = (fusefs.NodeReaddirer)((*snapshotsDir)(nil))
	_ = (fusefs.NodeGetattrer)((*snapshotsDir)(nil))
)

// refreshEvery bounds how often .snapshots asks the store for new
// snapshots (ones committed elsewhere); this mount's own appear at once.
const refreshEvery = 5 * time.Second

func newSnapshotsDir(r *repo.Repository, log *slog.Logger, ino *atomic.Uint64, snaps []*repo.Snapshot) *snapshotsDir {
	d := &snapshotsDir{r: r, log: log, ino: ino, roots: map[string]*fusefs.Inode{}, links: map[string]uint64{}}
	d.setSnaps(snaps)
	d.listed = time.Now()
	return d
}

// attach makes d a child inode of the head's root on first use.
func (d *snapshotsDir) attach(ctx context.Context, root *fusefs.Inode, out *fuse.EntryOut) *fusefs.Inode {
	d.once.Do(func() {
		root.NewPersistentInode(ctx, d, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: d.ino.Add(1)})
	})
	d.fillAttr(&out.Attr)
	return d.EmbeddedInode()
}

// setSnaps names each snapshot (repo.NameSnapshots: the names every
// listing shows and --snapshot accepts); mu must be held or d unshared.
func (d *snapshotsDir) setSnaps(snaps []*repo.Snapshot) {
	d.snaps = snaps
	d.names = make(map[string]*repo.Snapshot, len(snaps))
	d.latest = ""
	for i, name := range repo.NameSnapshots(snaps) {
		d.names[name] = snaps[i]
		d.latest = name
	}
}

func (d *snapshotsDir) add(s *repo.Snapshot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setSnaps(append(d.snaps[:len(d.snaps):len(d.snaps)], s))
}

func (d *snapshotsDir) refresh(ctx context.Context, force bool) {
	d.mu.Lock()
	stale := time.Since(d.listed) > refreshEvery
	d.mu.Unlock()
	if !stale && !force {
		return
	}
	snaps, err := d.r.Snapshots(ctx)
	if err != nil {
		d.log.Warn("listing snapshots failed", "err", err)
		return
	}
	d.mu.Lock()
	d.setSnaps(snaps)
	d.listed = time.Now()
	d.mu.Unlock()
}

func (d *snapshotsDir) fillAttr(out *fuse.Attr) {
	out.Mode = syscall.S_IFDIR | 0555
	out.Nlink = 1
	out.Ino = d.StableAttr().Ino
	d.mu.Lock()
	if n := len(d.snaps); n > 0 {
		t := d.snaps[n-1].Time.UnixNano()
		setTimes(out, t, t, t)
	}
	d.mu.Unlock()
}

// Getattr reports a read-only directory.
func (d *snapshotsDir) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fillAttr(&out.Attr)
	return 0
}

// Lookup finds a snapshot by name, or "latest".
func (d *snapshotsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	d.mu.Lock()
	_, known := d.names[name]
	d.mu.Unlock()
	d.refresh(ctx, !known && name != "latest")
	d.mu.Lock()
	defer d.mu.Unlock()
	if name == "latest" {
		if d.latest == "" {
			out.SetEntryTimeout(time.Nanosecond)
			return nil, syscall.ENOENT
		}
		ino, ok := d.links[d.latest]
		if !ok {
			ino = d.ino.Add(1)
			d.links[d.latest] = ino
		}
		l := &snapNode{e: repo.Node{Type: repo.TypeSymlink, Mode: 0777, Target: d.latest}}
		l.e.Mtime = d.names[d.latest].Time.UnixNano()
		ch := d.NewInode(ctx, l, fusefs.StableAttr{Mode: syscall.S_IFLNK, Ino: ino})
		l.fillAttr(&out.Attr)
		// "latest" moves: the kernel must ask again at once. A zero
		// timeout would be replaced by the mount's default.
		out.SetEntryTimeout(time.Nanosecond)
		out.SetAttrTimeout(time.Nanosecond)
		return ch, 0
	}
	s, ok := d.names[name]
	if !ok {
		out.SetEntryTimeout(time.Nanosecond) // it may be committed soon
		return nil, syscall.ENOENT
	}
	root, ok := d.roots[s.ID]
	if !ok {
		n := newSnapRoot(d.r, d.log, d.ino, s)
		root = d.NewPersistentInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: d.ino.Add(1)})
		d.roots[s.ID] = root
	}
	root.Operations().(*snapNode).fillAttr(&out.Attr)
	return root, 0
}

// Readdir lists every snapshot and "latest".
func (d *snapshotsDir) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	d.refresh(ctx, false)
	d.mu.Lock()
	defer d.mu.Unlock()
	entries := make([]fuse.DirEntry, 0, len(d.names)+1)
	for name := range d.names {
		entries = append(entries, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR})
	}
	if d.latest != "" {
		entries = append(entries, fuse.DirEntry{Name: "latest", Mode: syscall.S_IFLNK})
	}
	return fusefs.NewListDirStream(entries), 0
}
