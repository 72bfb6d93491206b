package restore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// WriteTar writes a directory node's tree (or one file) to w as a tar
// archive in the PAX format GNU tar and bsdtar read: nanosecond times,
// numeric owners, hard links as links, symlinks, devices and fifos,
// extended attributes as SCHILY.xattr records and POSIX ACLs as
// SCHILY.acl.access and .default (tar -x --xattrs --acls restores them).
// Names are relative to the node ("./" is the node itself). Sockets,
// which tar cannot hold, are left out with a report. A block that cannot
// be read is reported and written as zeros, and the archive then ends
// with ErrIncomplete.
func WriteTar(ctx context.Context, r *repo.Repository, node repo.Node, w io.Writer, onError func(p string, err error)) error {
	t := &tarWriter{tw: tar.NewWriter(w), r: r, links: map[uint64]string{}, dirs: map[string]repo.Node{}}
	t.onError = func(p string, err error) {
		t.problems.Add(1)
		onError(p, err)
	}
	var err error
	if node.Type == repo.TypeDir {
		if err = t.add(ctx, "./", node); err == nil {
			err = walkPaths(ctx, r, node.Subtree, nil, t.unreadable, t.visit)
		}
	} else {
		err = t.add(ctx, node.Name, node)
	}
	if err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return err
	}
	if t.problems.Load() > 0 {
		return ErrIncomplete
	}
	return nil
}

type tarWriter struct {
	tw       *tar.Writer
	r        *repo.Repository
	onError  func(p string, err error)
	links    map[uint64]string    // hard-link identity -> first name written
	dirs     map[string]repo.Node // directories listed whose header is not written yet
	problems atomic.Int64
}

// visit writes directory dir's header and then its entries but the
// directories beneath, whose headers wait until the walk reaches them:
// each directory's members then follow its header without a break, and
// tar -x sets a directory's times only once it is past all of them.
func (t *tarWriter) visit(ctx context.Context, dir string, tree *repo.Tree) error {
	if err := t.header(ctx, dir); err != nil {
		return err
	}
	for _, n := range tree.Nodes {
		p := path.Join(dir, n.Name)
		if n.Type == repo.TypeDir {
			t.dirs[p] = n
			continue
		}
		if err := t.add(ctx, strings.TrimPrefix(p, "/"), n); err != nil {
			return err
		}
	}
	return nil
}

func (t *tarWriter) header(ctx context.Context, dir string) error {
	n, ok := t.dirs[dir]
	if !ok {
		return nil // the top, written first
	}
	delete(t.dirs, dir)
	return t.add(ctx, strings.TrimPrefix(dir, "/"), n)
}

// unreadable reports a directory whose listing cannot be read; it is
// still written, empty.
func (t *tarWriter) unreadable(dir string, err error) {
	t.onError(dir, err)
	if err := t.header(context.Background(), dir); err != nil {
		t.onError(dir, err)
	}
}

var tarTypes = map[repo.NodeType]byte{
	repo.TypeFile: tar.TypeReg, repo.TypeDir: tar.TypeDir, repo.TypeSymlink: tar.TypeSymlink,
	repo.TypeFIFO: tar.TypeFifo, repo.TypeChar: tar.TypeChar, repo.TypeBlock: tar.TypeBlock,
}

// add writes one entry (and a file's contents).
func (t *tarWriter) add(ctx context.Context, name string, n repo.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	typ, ok := tarTypes[n.Type]
	if !ok {
		t.onError("/"+name, errors.New("a socket cannot be stored in a tar archive, left out"))
		return nil
	}
	h := &tar.Header{
		Typeflag: typ, Name: name, Mode: int64(n.Mode & 0o7777), Uid: int(n.UID), Gid: int(n.GID),
		ModTime: time.Unix(0, n.Mtime), AccessTime: time.Unix(0, n.Atime), ChangeTime: time.Unix(0, n.Ctime),
		Linkname: n.Target, Format: tar.FormatPAX,
	}
	if n.Type == repo.TypeDir && !strings.HasSuffix(h.Name, "/") {
		h.Name += "/"
	}
	if n.Type == repo.TypeChar || n.Type == repo.TypeBlock {
		h.Devmajor, h.Devminor = int64(unix.Major(n.Rdev)), int64(unix.Minor(n.Rdev))
	}
	if n.Type == repo.TypeFile {
		h.Size = int64(n.Size)
		if n.Link != 0 {
			if first, ok := t.links[n.Link]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				t.links[n.Link] = name
			}
		}
	}
	for _, x := range n.Xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		switch x.Name {
		case "system.posix_acl_access", "system.posix_acl_default":
			text, err := aclText(x.Value)
			if err != nil {
				t.onError("/"+name, fmt.Errorf("%s: %w, left out", x.Name, err))
				continue
			}
			h.PAXRecords["SCHILY.acl."+strings.TrimPrefix(x.Name, "system.posix_acl_")] = text
		default:
			h.PAXRecords["SCHILY.xattr."+x.Name] = string(x.Value)
		}
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg || h.Size == 0 {
		return nil
	}
	_, err := copyFile(ctx, t.r, "/"+name, n, t.tw, t.onError)
	return err
}

// aclText renders an ACL in Linux's xattr form as the text GNU tar keeps
// (acl_to_text's short form, numeric IDs, comma-separated).
func aclText(b []byte) (string, error) {
	const header, entry = 4, 8
	if len(b) < header || (len(b)-header)%entry != 0 || b[0] != 2 || b[1]|b[2]|b[3] != 0 {
		return "", errors.New("not a POSIX ACL")
	}
	var parts []string
	for e := b[header:]; len(e) > 0; e = e[entry:] {
		tag := uint16(e[0]) | uint16(e[1])<<8
		perm := uint16(e[2]) | uint16(e[3])<<8
		id := uint32(e[4]) | uint32(e[5])<<8 | uint32(e[6])<<16 | uint32(e[7])<<24
		rwx := []byte("---")
		for i, c := range "rwx" {
			if perm&(4>>i) != 0 {
				rwx[i] = byte(c)
			}
		}
		var who string
		switch tag {
		case 0x01:
			who = "user::"
		case 0x02:
			who = fmt.Sprintf("user:%d:", id)
		case 0x04:
			who = "group::"
		case 0x08:
			who = fmt.Sprintf("group:%d:", id)
		case 0x10:
			who = "mask::"
		case 0x20:
			who = "other::"
		default:
			return "", fmt.Errorf("unknown ACL tag %#x", tag)
		}
		parts = append(parts, who+string(rwx))
	}
	return strings.Join(parts, ","), nil
}
