package backup

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"coffer/repo"
	"coffer/restore"
)

// ErrIncomplete: the snapshot was written, but some entries could not be
// read and are missing from it (each was passed to Options.OnError).
var ErrIncomplete = errors.New("backup incomplete")

// Options say what to back up and how.
type Options struct {
	Exclude       *restore.Filter // paths from the top of the snapshot ("/a/b"); nil excludes nothing
	OneFileSystem bool            // do not descend into other filesystems mounted beneath a source
	Host          string          // the snapshot's host; the parent is this host's latest snapshot
	Tags          []string
	Parent        *repo.Snapshot // compare with this snapshot instead of the host's latest; nil to look it up
	NoParent      bool           // read every file
	Workers       int            // files read at once; 0 for a default
	// OnError hears of each entry left out because it could not be read.
	OnError func(path string, err error)
	// Progress hears of each file done (bytes read from it, 0 if reused).
	Progress func(files, bytes int64)
	// Planned hears, once the walk is done, how many files and bytes are
	// to be read.
	Planned func(files, bytes int64)
	Log     *slog.Logger
	Clock   func() time.Time
}

// Summary says what a backup did.
type Summary struct {
	Snapshot   *repo.Snapshot
	Parent     string // the snapshot compared with, "" if none
	Files      uint64 // regular files in the snapshot
	Dirs       uint64
	Others     uint64 // symlinks and special files
	New        uint64 // files not in the parent
	Changed    uint64 // files in the parent, read again
	Unchanged  uint64 // files whose blocks were reused unread
	BytesRead  int64  // bytes read from local files
	TotalBytes uint64 // the files' logical bytes
	Errors     int    // entries left out
	Took       time.Duration
}

// entry is one local entry on its way into a tree.
type entry struct {
	path     string // on the local filesystem
	node     repo.Node
	prev     *repo.Node // the parent snapshot's entry at the same path, if any
	dev, ino uint64
	nlink    uint32
	children []*entry // directories, after the walk
	reuse    bool     // a file whose blocks come from prev
}

// Run backs up sources (absolute or relative local paths) into r as one
// snapshot. A single directory's contents become the snapshot's root, its
// own attributes the root's; anything else (several sources, or a file)
// is placed in a root directory by base name. The snapshot is saved only
// when every block and tree is; an entry that cannot be read is reported,
// left out, and makes Run return ErrIncomplete after saving.
func Run(ctx context.Context, r *repo.Repository, sources []string, o Options) (*Summary, error) {
	if len(sources) == 0 {
		return nil, errors.New("nothing to back up: name at least one path")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	start := time.Now()
	b := &backuper{r: r, o: o, links: map[devIno][]*entry{}}
	defer b.watchPlans(ctx)()
	parent, err := b.parent(ctx)
	if err != nil {
		return nil, err
	}
	b.preloadParent(ctx, parent)
	root, err := b.root(ctx, sources, parent)
	if err != nil {
		return nil, err
	}
	b.assignLinks()
	if err := b.readFiles(ctx); err != nil {
		return nil, err
	}
	rootNode, err := b.saveDir(ctx, root)
	if err != nil {
		return nil, err
	}
	linksID, err := r.SaveLinks(ctx, b.linkTable)
	if err != nil {
		return nil, err
	}
	snap := &repo.Snapshot{
		Time: o.Clock().UTC(), Host: o.Host, Tags: o.Tags,
		Tree: rootNode.Subtree, Root: root.node, Links: linksID,
		Files: rootNode.Files, Size: rootNode.Bytes,
	}
	snap.Root.Name, snap.Root.Subtree, snap.Root.Files, snap.Root.Bytes = "", [32]byte{}, 0, 0
	if parent != nil {
		snap.Parent = parent.ID
	}
	if err := r.SaveSnapshot(ctx, snap); err != nil {
		return nil, err
	}
	sum := &b.sum
	sum.Snapshot, sum.Files, sum.TotalBytes, sum.Took = snap, snap.Files, snap.Size, time.Since(start)
	sum.BytesRead = b.bytesRead.Load()
	sum.Errors = int(b.errors.Load())
	if parent != nil {
		sum.Parent = parent.ID
	}
	if sum.Errors > 0 {
		return sum, fmt.Errorf("%w: %d entries could not be read and are not in snapshot %s", ErrIncomplete, sum.Errors, snap.ID)
	}
	return sum, nil
}

type devIno struct{ dev, ino uint64 }

// backuper is one run's state.
type backuper struct {
	r *repo.Repository
	o Options

	mu        sync.Mutex          // guards links, toRead, sum's counts
	links     map[devIno][]*entry // files with more than one link, by identity
	toRead    []*entry
	sum       Summary
	linkTable repo.LinkTable // after assignLinks

	bytesRead atomic.Int64
	errors    atomic.Int64
}

// parent is the snapshot unchanged files are compared with: the one
// given, or this host's latest.
func (b *backuper) parent(ctx context.Context) (*repo.Snapshot, error) {
	if b.o.NoParent {
		return nil, nil
	}
	if b.o.Parent != nil {
		return b.o.Parent, nil
	}
	return HostLatest(ctx, b.r, b.o.Host)
}

// HostLatest is host's latest snapshot in r, nil if there is none: a
// backup's parent.
func HostLatest(ctx context.Context, r *repo.Repository, host string) (*repo.Snapshot, error) {
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var latest *repo.Snapshot
	for _, s := range snaps {
		if s.Host == host {
			latest = s
		}
	}
	return latest, nil
}

// watchPlans reads new prune plans every RefreshInterval until the
// returned stop is called, as a mount does: the blocks this backup
// relies on (its own and those it deduplicated against) are moved out of
// a plan's packs before the plan is carried out. SaveSnapshot reads them
// once more before the snapshot is put.
func (b *backuper) watchPlans(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(b.r.RefreshInterval())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := b.r.RefreshPlans(ctx); err != nil && ctx.Err() == nil {
					b.o.Log.Warn("prune plans not read; the snapshot fails unless they are read before it", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (b *backuper) fail(path string, err error) {
	b.errors.Add(1)
	b.o.Log.Warn("left out of the backup", "path", path, "err", err)
	if b.o.OnError != nil {
		b.o.OnError(path, err)
	}
}

// newLink is a fresh non-zero hard-link identity.
func newLink() uint64 {
	var buf [8]byte
	for {
		_, _ = rand.Read(buf[:])
		if v := binary.LittleEndian.Uint64(buf[:]); v != 0 {
			return v
		}
	}
}

// assignLinks gives each file seen under more than one name one link
// identity (the parent's, when it had one for any of these names, so an
// unchanged tree keeps its ID) and counts its names for the link table.
// A file with other names outside the backup is an ordinary file here.
func (b *backuper) assignLinks() {
	b.linkTable = repo.LinkTable{}
	for _, names := range b.links {
		if len(names) < 2 {
			continue
		}
		var id uint64
		for _, e := range names {
			if e.prev != nil && e.prev.Link != 0 {
				id = e.prev.Link
				break
			}
		}
		if id == 0 || b.linkTable[id] != 0 {
			id = newLink()
		}
		for _, e := range names {
			e.node.Link = id
		}
		b.linkTable[id] = uint32(len(names))
	}
}

// absPath is p made absolute and clean, for messages.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
