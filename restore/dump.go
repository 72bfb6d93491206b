package restore

import (
	"context"
	"fmt"
	"io"

	"coffer/repo"
)

// dumpChunk is how much of a file a dump reads at once; FileReader reads
// the blocks ahead in parallel.
const dumpChunk = 1 << 20

// DumpFile writes a file node's contents to w. A block that cannot be
// read is reported to onError (with p, the file's path) and written as
// zeros, so a stream keeps its length; the dump then ends with
// ErrIncomplete.
func DumpFile(ctx context.Context, r *repo.Repository, p string, n repo.Node, w io.Writer, onError func(p string, err error)) error {
	if n.Type != repo.TypeFile {
		return fmt.Errorf("%s is a %s, not a file (dump a directory with --archive tar)", p, n.Type)
	}
	failed, err := copyFile(ctx, r, p, n, w, onError)
	if err != nil {
		return err
	}
	if failed {
		return ErrIncomplete
	}
	return nil
}

// copyFile copies n's contents to w, writing zeros for each block that
// cannot be read and reporting it. Only a failing w or a cancelled
// context is an error.
func copyFile(ctx context.Context, r *repo.Repository, p string, n repo.Node, w io.Writer, onError func(p string, err error)) (failed bool, err error) {
	fr := r.NewFileReader(n.Blocks)
	buf := make([]byte, dumpChunk)
	var off int64
	for i, b := range n.Blocks {
		// Read block by block so a damaged one costs only its bytes.
		end := off + int64(b.Len)
		for off < end {
			k := min(int64(len(buf)), end-off)
			got, rerr := fr.ReadAt(ctx, buf[:k], off)
			if rerr != nil {
				if ctx.Err() != nil {
					return failed, ctx.Err()
				}
				failed = true
				onError(p, fmt.Errorf("block %d of %d (%s, at offset %d), written as zeros: %w", i+1, len(n.Blocks), b.ID, off, rerr))
				clear(buf[got:k])
				got = int(k)
			}
			if _, err := w.Write(buf[:got]); err != nil {
				return failed, err
			}
			off += int64(got)
			if rerr != nil {
				// The rest of this block was zeroed too.
				if _, err := w.Write(make([]byte, end-off)); err != nil {
					return failed, err
				}
				off = end
			}
		}
	}
	return failed, nil
}
