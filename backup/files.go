package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// readBuf is how much of a file is read at once.
const readBuf = 1 << 20

// errLocal marks a failure to read a local file (as opposed to one to
// store it): the file is left out and the backup goes on.
type errLocal struct{ error }

// readFiles reads and chunks every file not reused from the parent, in
// parallel. A file with several names is read once. A file that cannot be
// read is reported and left out; a failure to store ends the backup.
func (b *backuper) readFiles(ctx context.Context) error {
	var work []*entry
	seen := map[devIno]*entry{}
	var bytes int64
	for _, e := range b.toRead {
		if e.nlink > 1 {
			k := devIno{e.dev, e.ino}
			if seen[k] != nil {
				continue
			}
			seen[k] = e
		}
		work = append(work, e)
		bytes += int64(e.node.Size)
	}
	if b.o.Planned != nil {
		b.o.Planned(int64(len(work)), bytes)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *entry)
	var wg sync.WaitGroup
	for range b.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, readBuf)
			for e := range next {
				n, err := b.readFile(ctx, e, buf)
				var local errLocal
				switch {
				case errors.As(err, &local):
					e.node.Type = "" // left out
					b.fail(e.path, local.error)
				case err != nil:
					cancel(fmt.Errorf("%s: %w", e.path, err))
				}
				if b.o.Progress != nil {
					b.o.Progress(1, n)
				}
			}
		}()
	}
feed:
	for _, e := range work {
		select {
		case next <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	// The other names of a file read once share its contents.
	for _, e := range b.toRead {
		if first := seen[devIno{e.dev, e.ino}]; e.nlink > 1 && first != e {
			e.node.Type, e.node.Size, e.node.Blocks = first.node.Type, first.node.Size, first.node.Blocks
		}
	}
	return nil
}

// readFile chunks e's contents into new blocks and returns the bytes read.
func (b *backuper) readFile(ctx context.Context, e *entry, buf []byte) (int64, error) {
	f, err := openNoAtime(e.path, 0)
	if err != nil {
		return 0, errLocal{err}
	}
	defer f.Close()
	w := b.r.NewFileWriter()
	var off int64
	for {
		k, rerr := f.Read(buf)
		if k > 0 {
			if err := w.WriteAt(ctx, buf[:k], off); err != nil {
				_, _ = w.Close(ctx)
				return off, err
			}
			off += int64(k)
			b.bytesRead.Add(int64(k))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			_, _ = w.Close(ctx)
			return off, errLocal{rerr}
		}
	}
	blocks, err := w.Close(ctx)
	if err != nil {
		return off, err
	}
	// What was read is the file: if it changed while being read, its
	// change time differs from the one recorded, and the next backup
	// reads it again.
	e.node.Size, e.node.Blocks = uint64(off), blocks
	return off, nil
}

// openNoAtime opens p for reading (with flags added) without following a
// symlink and, when allowed (the caller owns it, or is root), without
// touching its atime: the backup reads it, it must not change it, or the
// next backup would find the tree changed.
func openNoAtime(p string, flags int) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOATIME|flags, 0)
	if errors.Is(err, unix.EPERM) {
		f, err = os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|flags, 0)
	}
	return f, err
}

// saveDir stores directory e's tree (and those beneath it) and returns a
// node with its tree ID and totals.
func (b *backuper) saveDir(ctx context.Context, e *entry) (repo.Node, error) {
	var t repo.Tree
	var files, bytes uint64
	for _, c := range e.children {
		switch c.node.Type {
		case "":
			continue // could not be read
		case repo.TypeDir:
			sub, err := b.saveDir(ctx, c)
			if err != nil {
				return repo.Node{}, err
			}
			c.node.Subtree, c.node.Files, c.node.Bytes = sub.Subtree, sub.Files, sub.Bytes
			files, bytes = files+sub.Files, bytes+sub.Bytes
		case repo.TypeFile:
			files, bytes = files+1, bytes+c.node.Size
		}
		t.Nodes = append(t.Nodes, c.node)
	}
	id, err := b.r.SaveTree(ctx, &t)
	if err != nil {
		return repo.Node{}, err
	}
	return repo.Node{Subtree: id, Files: files, Bytes: bytes}, nil
}
