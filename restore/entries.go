package restore

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// clear makes way at full for a new entry. It reports false when
// --overwrite never keeps what is there (counted as skipped).
func (x *Restorer) clear(full string, fi os.FileInfo, n repo.Node) (bool, error) {
	if x.o.Overwrite == OverwriteNever {
		x.skip(n)
		return false, nil
	}
	if fi.IsDir() {
		return false, fmt.Errorf("a directory is in the way of this %s", n.Type)
	}
	return true, os.Remove(full)
}

func (x *Restorer) skip(n repo.Node) {
	x.skipped.Add(1)
	x.skippedBytes.Add(int64(n.Size))
}

// file restores a regular file: a later name of a hard-linked file is
// linked to the first; a file already there is kept when the overwrite
// mode says so; otherwise the file is made at its full size (so what is
// never written stays a hole) and its blocks are queued.
func (x *Restorer) file(ctx context.Context, p, full string, n repo.Node, fi os.FileInfo, inFresh bool) error {
	if n.Link != 0 {
		if first, ok := x.links[n.Link]; ok {
			// Linked once every file is made: the first name is
			// created when its first block arrives.
			x.later = append(x.later, laterLink{p: p, first: first, full: full, n: n, fi: fi})
			return nil
		}
		x.links[n.Link] = full
	}
	if fi != nil {
		if x.o.Overwrite == OverwriteIfChanged && fi.Mode().IsRegular() && fi.Size() == int64(n.Size) {
			same, err := x.sameContents(full, n.Blocks)
			if err != nil {
				return err
			}
			if same {
				x.skip(n)
				return x.setMeta(full, n, existed)
			}
		}
		if ok, err := x.clear(full, fi, n); !ok || err != nil {
			return err
		}
	}
	if len(n.Blocks) == 0 {
		perm, how := x.createMode(n, madeHere(inFresh))
		fd, err := createFile(full, perm, 0)
		if err != nil {
			return err
		}
		if err := unix.Close(fd); err != nil {
			return err
		}
		x.files.Add(1)
		return x.setMeta(full, n, how)
	}
	return x.pipe.add(ctx, newFileJob(p, full, n, madeHere(inFresh)))
}

// createFile makes a new file of size bytes, all a hole, with mode perm
// (0600 until its metadata is set, or its own: createMode). It works on
// the descriptor directly: the os package's poller costs five more
// system calls a file.
func createFile(full string, perm uint32, size int64) (int, error) {
	fd, err := unix.Open(full, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return -1, &os.PathError{Op: "create", Path: full, Err: err}
	}
	if size > 0 {
		if err := unix.Ftruncate(fd, size); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "truncate", Path: full, Err: err}
		}
	}
	return fd, nil
}

// laterLink is a second (or later) name of a hard-linked file.
type laterLink struct {
	p, first, full string
	n              repo.Node
	fi             os.FileInfo
}

// linkAll makes the hard links put off until every file exists.
func (x *Restorer) linkAll() {
	for _, l := range x.later {
		if err := x.hardLink(l.first, l.full, l.n, l.fi); err != nil {
			x.fail(l.p, err)
		}
	}
	x.later = nil
}

// sameContents reports whether the file at full holds exactly the
// blocks listed: each piece, read at the block's length, has the block's
// ID. Nothing is fetched from the store.
func (x *Restorer) sameContents(full string, blocks []repo.BlockRef) (bool, error) {
	f, err := os.Open(full)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var buf []byte
	for _, b := range blocks {
		if cap(buf) < int(b.Len) {
			buf = make([]byte, b.Len)
		}
		buf = buf[:b.Len]
		if _, err := io.ReadFull(f, buf); err != nil {
			return false, nil // shorter than it says: not the same
		}
		if x.r.ContentID(buf) != b.ID {
			return false, nil
		}
	}
	return true, nil
}

// hardLink makes full another name of first.
func (x *Restorer) hardLink(first, full string, n repo.Node, fi os.FileInfo) error {
	if fi != nil {
		if ffi, err := os.Lstat(first); err == nil && os.SameFile(fi, ffi) {
			x.skip(n)
			return nil
		}
		if ok, err := x.clear(full, fi, n); !ok || err != nil {
			return err
		}
	}
	if err := os.Link(first, full); err != nil {
		return err
	}
	x.files.Add(1)
	return nil
}

func (x *Restorer) symlink(full string, n repo.Node, fi os.FileInfo, inFresh bool) error {
	if fi != nil {
		if x.o.Overwrite == OverwriteIfChanged && fi.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(full); err == nil && target == n.Target {
				x.skip(n)
				return x.setMeta(full, n, existed)
			}
		}
		if ok, err := x.clear(full, fi, n); !ok || err != nil {
			return err
		}
	}
	if err := os.Symlink(n.Target, full); err != nil {
		return err
	}
	x.others.Add(1)
	return x.setMeta(full, n, madeHere(inFresh))
}

// fileType is the st_mode type bits of a special file's node type.
var fileType = map[repo.NodeType]uint32{
	repo.TypeFIFO: unix.S_IFIFO, repo.TypeChar: unix.S_IFCHR, repo.TypeBlock: unix.S_IFBLK, repo.TypeSocket: unix.S_IFSOCK,
}

// special makes a fifo, device or socket node.
func (x *Restorer) special(full string, n repo.Node, fi os.FileInfo, inFresh bool) error {
	typ := fileType[n.Type]
	if fi != nil {
		var st unix.Stat_t
		if x.o.Overwrite == OverwriteIfChanged && unix.Lstat(full, &st) == nil &&
			st.Mode&unix.S_IFMT == typ && st.Rdev == n.Rdev {
			x.skip(n)
			return x.setMeta(full, n, existed)
		}
		if ok, err := x.clear(full, fi, n); !ok || err != nil {
			return err
		}
	}
	if err := unix.Mknod(full, typ|0o600, int(n.Rdev)); err != nil {
		return fmt.Errorf("make %s: %w", n.Type, err)
	}
	x.others.Add(1)
	return x.setMeta(full, n, madeHere(inFresh))
}
