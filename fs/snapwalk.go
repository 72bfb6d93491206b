package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"coffer/repo"
)

// The walk of a mount of one snapshot. ls -lR, find, du and a copy's
// first pass list every directory one after the other, and each listing
// would wait for its tree block to be fetched, decrypted and parsed. So
// when the mount's root is first loaded, a walk loads every directory of
// the snapshot in the background, a level at a time: one level's trees
// are fetched together with repo.Preload (which reads the neighbouring
// trees of a pack with one ranged read and runs several at once), then
// each directory is loaded as a listing would load it, so the kernel's
// listings find their entries ready, on the other core.
//
// The walk also learns whether any entry of the snapshot has an extended
// attribute. When none has, Getxattr answers ENOSYS from then on, and
// the kernel stops asking for the rest of the mount: ls -l asks for
// security.selinux and system.posix_acl_access of every entry it lists,
// which would otherwise cost two round trips an entry, more than the
// listing itself. ENOSYS turns getxattr off for the whole kernel
// connection for good, which is sound only because a mount of one
// snapshot never changes, and only once every directory was read; a
// snapshot under a head's .snapshots shares its connection with the head
// and is not walked.

// walkBytesPerFile bounds which snapshots are walked. A file is taken to
// cost this much, in tree bytes fetched and in memory once its entry is
// loaded (loaded entries stay, as listed ones always did), and a
// snapshot is walked only when its files fit in a quarter of the block
// cache's bound, as the read-ahead's window does: 32,768 files with the
// default 64 MiB. A larger snapshot is loaded as before, a directory
// when it is first asked for, and keeps answering getxattr.
const walkBytesPerFile = 512

// snapWalk is one snapshot's walk; the zero value has not started.
type snapWalk struct {
	once     sync.Once
	running  bool        // set once by once: the walk was started
	noXattrs atomic.Bool // every directory was loaded and no entry has an extended attribute
}

// startWalk begins the walk of t's directories, once, and reports
// whether it runs (only a mount of one snapshot that is small enough is
// walked); it returns at once.
func (t *snapshotTree) startWalk() bool {
	t.walk.once.Do(func() {
		if !t.alone || int64(t.snap.Files)*walkBytesPerFile > t.r.CacheBytes()/4 {
			return
		}
		t.walk.running = true
		go func() {
			start := time.Now()
			dirs, none := t.walkDirs(context.Background())
			t.walk.noXattrs.Store(none)
			t.log.Debug("snapshot walked", "directories", dirs, "xattrs", !none, "took", time.Since(start))
		}()
	})
	return t.walk.running
}

// walkDirs loads every directory of the snapshot, a level at a time, and
// returns how many it loaded and whether all were loaded and no entry
// (the root included) has an extended attribute. A directory that cannot
// be loaded ends the walk with false: its own listing reports the damage.
func (t *snapshotTree) walkDirs(ctx context.Context) (int, bool) {
	none := len(t.root.e.Xattrs) == 0
	loaded := 0
	level := []*snapNode{t.root}
	for len(level) > 0 {
		wants := make([]repo.BlockWant, len(level))
		for i, d := range level {
			wants[i] = repo.BlockWant{Type: repo.TreeBlock, ID: d.e.Subtree}
		}
		if err := t.r.Preload(ctx, wants); err != nil {
			return loaded, false
		}
		var next []*snapNode
		for _, d := range level {
			if errno := d.load(ctx); errno != 0 {
				return loaded, false
			}
			loaded++
			for _, ch := range d.Children() {
				c := ch.Operations().(*snapNode)
				if len(c.e.Xattrs) > 0 {
					none = false
				}
				if c.e.Type == repo.TypeDir {
					next = append(next, c)
				}
			}
		}
		level = next
	}
	return loaded, none
}
