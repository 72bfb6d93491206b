package fs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"coffer/repo"
)

// Head is the writable next snapshot: the mount's root. It starts as a
// copy of the latest snapshot's tree and loads directories lazily.
type Head struct {
	repo    *repo.Repository
	log     *slog.Logger
	clock   func() time.Time
	host    string
	ino     atomic.Uint64 // last inode number handed out
	version atomic.Uint64 // counts changes

	commitMu sync.Mutex // one commit at a time

	stopping atomic.Bool // a stop began: opens for writing are refused

	// treeMu: operations that change the tree hold it shared; a commit
	// holds it exclusively while it reads the whole tree.
	treeMu sync.RWMutex

	// nsMu guards every directory's entries (node.kids): lookups hold it
	// shared, changes exclusively, each for a map access only.
	nsMu sync.RWMutex

	loadedLeaves atomic.Int64 // files, links and special files held by loaded directories
	maxLoaded    int64        // how many may be before clean directories are shed
	trimming     atomic.Bool  // a trim (see shed.go) is running
	useClock     atomic.Int64 // ticks at every directory use, to shed the least recently used

	mu         sync.Mutex
	base       *repo.Snapshot   // guarded by mu; the snapshot the head started from
	links      repo.LinkTable   // guarded by mu; link counts of hard-linked files
	linked     map[uint64]*node // guarded by mu; loaded hard-linked files by identity
	changed    bool             // guarded by mu; anything changed since base
	everything bool             // guarded by mu; the next commit must visit every loaded directory
	flushed    map[*node]bool   // guarded by mu; closed by their last writer, not yet released
	root       *node
	snapshots  *snapshotsDir
}

// HeadOptions configure a head.
type HeadOptions struct {
	Logger *slog.Logger
	Clock  func() time.Time
	Host   string
	// Resume, if it was made on top of the latest snapshot, is a
	// checkpoint of a head whose daemon stopped without committing: the
	// head starts from it instead of from the snapshot.
	Resume *repo.Snapshot
	// Parent, if set, is the ID of the snapshot to start from instead of
	// the latest of this host (--parent: the way on when the latest
	// snapshot is damaged).
	Parent string
	// MaxLoaded bounds the files, links and special files the head keeps
	// in memory beyond those in use (see shed.go); 0 means DefaultMaxLoaded.
	MaxLoaded int
}

// NewHead prepares a head on top of the latest snapshot of this host, or
// the one HeadOptions.Parent names (or an empty tree).
func NewHead(ctx context.Context, r *repo.Repository, o HeadOptions) (*Head, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	h := &Head{repo: r, log: o.Logger, clock: o.Clock, host: o.Host, linked: make(map[uint64]*node), flushed: make(map[*node]bool)}
	h.maxLoaded = int64(o.MaxLoaded)
	if h.maxLoaded <= 0 {
		h.maxLoaded = DefaultMaxLoaded
	}
	h.ino.Store(1)
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	now := h.now()
	h.root = &node{h: h, kind: repo.TypeDir, mode: 0755, mtime: now, atime: now, ctime: now}
	h.links = repo.LinkTable{}
	base, err := h.pickBase(snaps, o.Parent)
	if err != nil {
		return nil, err
	}
	if base != nil {
		links, err := loadBase(ctx, r, base, snaps)
		if err != nil {
			return nil, err
		}
		h.base, h.links = base, links
		h.root.setFromRepo(&base.Root)
		h.root.subtree = base.Tree
		h.root.files, h.root.bytes = base.Files, base.Size
	}
	h.resume(ctx, o.Resume)
	h.snapshots = newSnapshotsDir(r, h.log, &h.ino, snaps)
	return h, nil
}

// resume starts the head from a checkpoint made on top of its base. A
// checkpoint of an older base (someone committed since), or one whose
// trees cannot be read, is ignored with a warning: the head then starts
// from the latest snapshot, as it would without one.
func (h *Head) resume(ctx context.Context, c *repo.Snapshot) {
	if c == nil {
		return
	}
	base := ""
	if h.base != nil {
		base = h.base.ID
	}
	if c.Parent != base {
		h.log.Warn("ignoring a head checkpoint made on another snapshot", "checkpoint_base", c.Parent, "latest", base)
		return
	}
	links, err := h.repo.LoadLinks(ctx, c.Links)
	if err == nil {
		_, err = h.repo.LoadTree(ctx, c.Tree)
	}
	if err != nil {
		h.log.Warn("ignoring an unreadable head checkpoint", "err", err)
		return
	}
	h.links = links
	h.root.setFromRepo(&c.Root)
	h.root.subtree = c.Tree
	h.root.files, h.root.bytes = c.Files, c.Size
	h.changed = true
	h.log.Info("resumed the head from a checkpoint", "time", c.Time, "files", c.Files, "bytes", c.Size)
}

// Root is the node to mount.
func (h *Head) Root() fusefs.InodeEmbedder { return h.root }

func (h *Head) now() int64 { return h.clock().UnixNano() }

func (h *Head) nextIno() uint64 { return h.ino.Add(1) }

// closing tracks files whose last writer has called close(2) but whose
// release has not arrived yet.
func (h *Head) closing(n *node, flushed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if flushed {
		h.flushed[n] = true
	} else {
		delete(h.flushed, n)
	}
}

// awaitReleases gives files closed just before a commit the moment the
// kernel takes to send their release, so "closed before the snapshot"
// holds for them too.
func (h *Head) awaitReleases() {
	h.awaitRelease(func() bool { return len(h.flushed) == 0 })
}

// awaitReleaseOf gives file n, if its last writer has just closed it, the
// moment the kernel takes to send its release, so a tool that closes a
// new file and at once opens it again (to fsync it) finds it finished, as
// it would on any other filesystem, rather than still being written.
func (h *Head) awaitReleaseOf(n *node) {
	h.awaitRelease(func() bool { return !h.flushed[n] })
}

// awaitRelease waits, up to releaseWait, until done (called with mu
// held) holds.
func (h *Head) awaitRelease(done func() bool) {
	for deadline := time.Now().Add(releaseWait); ; time.Sleep(time.Millisecond) {
		h.mu.Lock()
		ok := done()
		h.mu.Unlock()
		if ok || !time.Now().Before(deadline) {
			return
		}
	}
}

// releaseWait bounds the wait for a release the kernel owes after a
// close(2); it comes within microseconds unless the file is still open
// through a duplicated descriptor.
const releaseWait = 2 * time.Second

// touch records that the head differs from its base.
func (h *Head) touch() {
	h.mu.Lock()
	h.changed = true
	h.mu.Unlock()
	h.version.Add(1)
}

// Version changes whenever the head does.
func (h *Head) Version() uint64 { return h.version.Load() }

func (h *Head) linkCount(link uint64) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.links[link]; c > 0 {
		return c
	}
	return 1
}

// addLink records one more name for n, giving it a link identity first.
func (h *Head) addLink(n *node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n.link == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		n.link = binary.LittleEndian.Uint64(b[:]) | 1
		h.links[n.link] = 1
		h.linked[n.link] = n
	}
	h.links[n.link]++
	h.changed = true
}

// dropLink records that one name of n went away.
func (h *Head) dropLink(n *node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n.link == 0 {
		return
	}
	if h.links[n.link] > 1 {
		h.links[n.link]--
	} else {
		delete(h.links, n.link)
		delete(h.linked, n.link)
	}
}

// setFromRepo copies stored attributes into n.
func (n *node) setFromRepo(e *repo.Node) {
	n.mode, n.uid, n.gid = e.Mode&07777, e.UID, e.GID
	n.mtime, n.atime, n.ctime = e.Mtime, e.Atime, e.Ctime
	n.rdev, n.target, n.link = e.Rdev, e.Target, e.Link
	n.xattrs = nil
	for _, x := range e.Xattrs {
		if n.xattrs == nil {
			n.xattrs = make(map[string][]byte)
		}
		n.xattrs[x.Name] = x.Value
	}
	n.blocks, n.size = e.Blocks, int64(e.Size)
	n.subtree = e.Subtree
	n.files, n.bytes = e.Files, e.Bytes
}

// load fills a directory from its tree block, once it succeeds. A failure
// is not remembered: an interrupted caller or a store that was briefly
// away must not make the directory unreadable for good.
func (n *node) load(ctx context.Context) syscall.Errno {
	if n.loaded.Load() {
		n.used.Store(n.h.useClock.Add(1))
		return 0
	}
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if n.loaded.Load() {
		return 0
	}
	if errno := n.attach(ctx); errno != 0 {
		return errno
	}
	n.used.Store(n.h.useClock.Add(1))
	if n.subtree.IsZero() {
		n.h.nsMu.Lock()
		if n.kids == nil {
			n.kids = make(map[string]*node)
		}
		n.loaded.Store(true)
		n.h.nsMu.Unlock()
		return 0
	}
	t, err := n.h.repo.LoadTree(ctx, n.subtree)
	if err != nil {
		dir := n.path()
		if isDamage(err) {
			n.h.log.Error("a directory of the head is damaged: it reads as an I/O error, and new snapshots keep it as it was",
				"dir", dir, "tree", n.subtree.String(), "way_on", "coffer mount --parent SNAPSHOT starts the head from an older, intact snapshot")
		}
		return toErrno(n.h.log, "load directory "+dir, err)
	}
	n.addChildren(ctx, t)
	prefetchSubtrees(ctx, n.h.repo, t)
	return 0
}

// addChildren fills n's entries from its tree t and marks it loaded.
// Entries it still holds (its subdirectories, when it was shed) stay; a
// file or subdirectory it dropped comes back as the same node if anything
// (the kernel, an open handle) still holds that node, or else as a new one
// with the same inode number.
func (n *node) addChildren(ctx context.Context, t *repo.Tree) {
	h := n.h
	h.nsMu.Lock()
	defer h.nsMu.Unlock()
	kids := n.kids
	if kids == nil {
		kids = make(map[string]*node, len(t.Nodes))
	}
	shed := len(n.shedIno) == len(t.Nodes)
	leaves := 0
	for i := range t.Nodes {
		e := &t.Nodes[i]
		if kids[e.Name] != nil {
			continue
		}
		var child *node
		if e.Link != 0 {
			h.mu.Lock()
			child = h.linked[e.Link]
			h.mu.Unlock()
		}
		ino := uint64(0)
		var ghost *dirGhost
		switch {
		case e.Type == repo.TypeDir && n.shedDirs[e.Name] != nil:
			ghost = n.shedDirs[e.Name]
			child, ino = ghost.ref.Value(), ghost.ino
			if child != nil && child.unused() {
				child = nil // a new node frees what go-fuse kept in the old one
			}
		case child == nil && shed:
			child, ino = n.shedRef[i].Value(), n.shedIno[i]
		}
		if child == nil {
			child = &node{h: h, kind: e.Type}
			child.setFromRepo(e)
			if ino == 0 {
				ino = h.nextIno()
			}
			n.NewInode(ctx, child, fusefs.StableAttr{Mode: typeBits(e.Type), Ino: ino})
			if e.Link != 0 {
				h.mu.Lock()
				h.linked[e.Link] = child
				h.mu.Unlock()
			}
		}
		if ghost != nil {
			ghost.restore(child)
		}
		if e.Link == 0 || child.parent.Load() == nil {
			// n, perhaps new in place of a directory dropped whole
			child.parent.Store(n)
		}
		kids[e.Name] = child
		if child.kind == repo.TypeDir {
			child.name = e.Name
		} else {
			leaves++
		}
	}
	n.kids = kids
	n.shedIno, n.shedRef, n.shedDirs = nil, nil, nil
	// Under nsMu, with the entries: a trim judges a directory by both.
	n.loaded.Store(true)
	n.opened.Store(true)
	h.loadedLeaves.Add(int64(leaves))
	h.trimSoon()
}
