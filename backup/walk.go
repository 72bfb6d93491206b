package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// root walks the sources and returns the snapshot's root entry.
func (b *backuper) root(ctx context.Context, sources []string, parent *repo.Snapshot) (*entry, error) {
	var prevRoot *repo.Node
	if parent != nil {
		prevRoot = &repo.Node{Type: repo.TypeDir, Subtree: parent.Tree}
	}
	if len(sources) == 1 {
		// A symlink to a directory (/srv -> /data) names that
		// directory: its attributes are the root's.
		dir, err := filepath.EvalSymlinks(sources[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", absPath(sources[0]), err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(dir, &st); err != nil {
			return nil, fmt.Errorf("%s: %w", absPath(sources[0]), err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			e, err := b.newEntry(dir, "", &st, prevRoot)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", absPath(dir), err)
			}
			b.walk(ctx, e, "/", st.Dev)
			return e, ctx.Err()
		}
	}
	// Several sources, or a file: a root directory of the process's
	// owner, holding each by base name.
	now := b.o.Clock().UnixNano()
	root := &entry{node: repo.Node{Type: repo.TypeDir, Mode: 0o755, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Mtime: now, Atime: now, Ctime: now}}
	prev := b.prevTree(ctx, "/", prevRoot)
	seen := map[string]string{}
	for _, src := range sources {
		name := filepath.Base(filepath.Clean(absPath(src)))
		if other, ok := seen[name]; ok || name == "/" {
			return nil, fmt.Errorf("%s and %s would both be /%s in the snapshot: back them up separately, or name their parent", other, src, name)
		}
		seen[name] = src
		var st unix.Stat_t
		if err := unix.Lstat(src, &st); err != nil {
			return nil, fmt.Errorf("%s: %w", absPath(src), err)
		}
		e, err := b.newEntry(src, name, &st, prev[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", absPath(src), err)
		}
		root.children = append(root.children, e)
		if e.node.Type == repo.TypeDir {
			b.walk(ctx, e, "/"+name, st.Dev)
		}
	}
	b.sum.Dirs++
	return root, ctx.Err()
}

// newEntry describes the local entry p (lstat'ed in st) named name, whose
// entry in the parent snapshot is prev, and counts it.
func (b *backuper) newEntry(p, name string, st *unix.Stat_t, prev *repo.Node) (*entry, error) {
	n, err := nodeOf(p, name, st)
	if err != nil {
		return nil, err
	}
	e := &entry{path: p, node: n, prev: prev, dev: st.Dev, ino: st.Ino, nlink: uint32(st.Nlink)}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch n.Type {
	case repo.TypeDir:
		b.sum.Dirs++
	case repo.TypeFile:
		switch {
		case unchanged(prev, &e.node, st.Size):
			e.reuse = true
			e.node.Size, e.node.Blocks = prev.Size, prev.Blocks
			b.sum.Unchanged++
		case prev != nil && prev.Type == repo.TypeFile:
			b.sum.Changed++
			b.toRead = append(b.toRead, e)
		default:
			b.sum.New++
			b.toRead = append(b.toRead, e)
		}
		if st.Nlink > 1 {
			k := devIno{st.Dev, st.Ino}
			b.links[k] = append(b.links[k], e)
		}
	default:
		b.sum.Others++
	}
	return e, nil
}

// unchanged reports whether the file n (of size bytes) is the one prev
// recorded, unchanged since: same inode, change time, mtime and size, as
// restic judges. A node without a source inode (written by a mount) is
// never unchanged: it must be read once.
func unchanged(prev, n *repo.Node, size int64) bool {
	return prev != nil && prev.Type == repo.TypeFile && prev.SrcIno != 0 &&
		prev.SrcIno == n.SrcIno && prev.SrcCtime == n.SrcCtime && prev.Mtime == n.Mtime && prev.Size == uint64(size)
}

// walk lists directory e (at rel in the snapshot) and everything beneath
// it, in parallel, leaving out what the exclude patterns match and, with
// OneFileSystem, what lies on another device than dev.
func (b *backuper) walk(ctx context.Context, e *entry, rel string, dev uint64) {
	sem := make(chan struct{}, b.o.Workers)
	var wg sync.WaitGroup
	var visit func(e *entry, rel string)
	visit = func(e *entry, rel string) {
		if ctx.Err() != nil {
			return
		}
		if b.o.OneFileSystem && e.dev != dev {
			return // a mountpoint: the directory, empty, as restic keeps it
		}
		for _, c := range b.list(ctx, e, rel) {
			if c.node.Type != repo.TypeDir {
				continue
			}
			crel := path.Join(rel, c.node.Name)
			select {
			case sem <- struct{}{}:
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					visit(c, crel)
				}()
			default:
				visit(c, crel)
			}
		}
	}
	visit(e, rel)
	wg.Wait()
}

// list reads directory e's entries into e.children and returns them.
func (b *backuper) list(ctx context.Context, e *entry, rel string) []*entry {
	f, err := openNoAtime(e.path, unix.O_DIRECTORY)
	if err != nil {
		b.fail(e.path, err)
		return nil
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		b.fail(e.path, err)
		return nil
	}
	prev := b.prevTree(ctx, rel, e.prev)
	for _, name := range names {
		crel := path.Join(rel, name)
		if b.o.Exclude != nil && !b.o.Exclude.Selected(crel) {
			continue
		}
		p := filepath.Join(e.path, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if !errors.Is(err, unix.ENOENT) { // gone since the listing: not an error
				b.fail(p, err)
			}
			continue
		}
		c, err := b.newEntry(p, name, &st, prev[name])
		if err != nil {
			b.fail(p, err)
			continue
		}
		e.children = append(e.children, c)
	}
	return e.children
}

// prevTree is the parent snapshot's listing of the directory at rel, by
// name; empty if there is none. A listing that cannot be read only costs
// time: its files are read again.
func (b *backuper) prevTree(ctx context.Context, rel string, prev *repo.Node) map[string]*repo.Node {
	if prev == nil || prev.Type != repo.TypeDir || prev.Subtree.IsZero() {
		return nil
	}
	t, err := b.r.LoadTree(ctx, prev.Subtree)
	if err != nil {
		b.o.Log.Warn("the parent snapshot's listing is unreadable: its files are read again", "path", rel, "err", err)
		return nil
	}
	m := make(map[string]*repo.Node, len(t.Nodes))
	for i := range t.Nodes {
		m[t.Nodes[i].Name] = &t.Nodes[i]
	}
	return m
}
