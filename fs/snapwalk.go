package fs

import (
	"context"
	"sync"
	"sync/atomic"

	"coffer/cipher"
	"coffer/repo"
)

// The tree walk of a mount of one snapshot. ls -lR, find, du and a
// copy's first pass list every directory one after the other, and each
// listing would wait for its own tree block. So when the mount's first
// directory is loaded, a walk fetches all the snapshot's trees into the
// block cache, a level at a time: one level's trees are fetched together
// with repo.Preload, which reads the neighbouring trees of a pack with
// one ranged read and runs several at once.
//
// The walk also learns whether any entry of the snapshot has an extended
// attribute. When none has, Getxattr answers ENOSYS from then on, and
// the kernel stops asking for the rest of the mount: ls -l asks for
// security.selinux and system.posix_acl_access of every entry it lists,
// which would otherwise cost two round trips an entry, more than the
// listing itself. ENOSYS turns getxattr off for the whole kernel
// connection for good, which is sound only because a mount of one
// snapshot never changes, and only once every tree was read; a snapshot
// under a head's .snapshots shares its connection with the head and
// always answers.

// walkBytesPerFile is what one file is taken to cost in tree bytes when
// deciding whether a snapshot's trees fit the walk's share of the cache
// (a quarter, as the read-ahead's window): about twice what a small file's
// entry takes.
const walkBytesPerFile = 512

// snapWalk is one snapshot's walk; the zero value has not started.
type snapWalk struct {
	once     sync.Once
	done     chan struct{} // closed when the walk ended; nil before it starts
	noXattrs atomic.Bool   // every tree was read and no entry has an extended attribute
}

// start begins the walk of t's trees, once; it returns at once.
func (t *snapshotTree) startWalk() {
	t.walk.once.Do(func() {
		t.walk.done = make(chan struct{})
		if !t.alone || int64(t.snap.Files)*walkBytesPerFile > t.r.CacheBytes()/4 {
			close(t.walk.done)
			return
		}
		go func() {
			defer close(t.walk.done)
			if ok := t.walkTrees(context.Background()); ok {
				t.walk.noXattrs.Store(true)
			}
		}()
	})
}

// walkTrees loads every tree of the snapshot, a level at a time, and
// reports whether all were read and no entry (the root included) has an
// extended attribute. A tree that cannot be read ends the walk with
// false: its directory's own listing reports the damage.
func (t *snapshotTree) walkTrees(ctx context.Context) bool {
	none := len(t.snap.Root.Xattrs) == 0
	seen := map[cipher.ID]bool{t.snap.Tree: true}
	level := []cipher.ID{t.snap.Tree}
	for len(level) > 0 {
		wants := make([]repo.BlockWant, len(level))
		for i, id := range level {
			wants[i] = repo.BlockWant{Type: repo.TreeBlock, ID: id}
		}
		if err := t.r.Preload(ctx, wants); err != nil {
			return false
		}
		var next []cipher.ID
		for _, id := range level {
			tree, err := t.r.LoadTree(ctx, id)
			if err != nil {
				t.log.Debug("snapshot walk: tree unreadable", "tree", id.String(), "err", err)
				return false
			}
			for i := range tree.Nodes {
				e := &tree.Nodes[i]
				if len(e.Xattrs) > 0 {
					none = false
				}
				if e.Type == repo.TypeDir && !seen[e.Subtree] {
					seen[e.Subtree] = true
					next = append(next, e.Subtree)
				}
			}
		}
		level = next
	}
	return none
}
