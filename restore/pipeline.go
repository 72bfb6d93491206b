package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"coffer/repo"
)

// fileJob is a file waiting for its blocks. It is made, at its full
// size, when the first one arrives, so files are created in parallel.
type fileJob struct {
	p, full string // path from the top, and on disk
	n       repo.Node
	offs    []int64 // where each block starts
	left    atomic.Int64
	failed  atomic.Bool
	end     atomic.Int64 // how far data was written; beyond it, a hole up to the size
	made    made         // how it came to be (createMode sets modeSet)

	create sync.Once
	fd     int   // set by create
	err    error // set by create
}

func newFileJob(p, full string, n repo.Node, how made) *fileJob {
	j := &fileJob{p: p, full: full, n: n, made: how, fd: -1, offs: make([]int64, len(n.Blocks))}
	var off int64
	for i, b := range n.Blocks {
		j.offs[i] = off
		off += int64(b.Len)
	}
	j.left.Store(int64(len(n.Blocks)))
	return j
}

// blockOf is one block of one file.
type blockOf struct {
	job *fileJob
	i   int
}

// pipeline fetches the blocks of queued files in batches, so the fetcher
// can read neighbouring blocks of a pack with one ranged GET, in pack
// order, and writes each block as it arrives, from the fetcher's
// goroutines. Memory is the fetcher's budget plus one batch of
// references; open files are bounded by Options.MaxOpen.
type pipeline struct {
	x       *Restorer
	ctx     context.Context
	batch   []blockOf      // only the walking goroutine touches it
	batches chan []blockOf // to the fetching goroutines
	open    chan struct{}  // one token per file held open
	wg      sync.WaitGroup
}

// fetchers is how many batches are fetched at once. One: FetchBlocks
// already runs Options.Fetches GETs at once, and more at once than the
// HTTP client keeps idle connections for (the AWS SDK keeps 10 a host)
// would open a new connection, a TLS handshake on a real store, per
// request; the next batch is ready when one ends.
const fetchers = 1

func newPipeline(ctx context.Context, x *Restorer) *pipeline {
	p := &pipeline{x: x, ctx: ctx, batches: make(chan []blockOf, 1), open: make(chan struct{}, x.o.MaxOpen)}
	for range fetchers {
		p.wg.Go(func() {
			for b := range p.batches {
				p.fetch(b)
			}
		})
	}
	return p
}

// add queues job's blocks. When MaxOpen files are already open, the
// batch is handed over first so they can finish.
func (p *pipeline) add(ctx context.Context, job *fileJob) error {
	select {
	case p.open <- struct{}{}:
	default:
		p.flush()
		select {
		case p.open <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range job.n.Blocks {
		p.batch = append(p.batch, blockOf{job, i})
		if len(p.batch) >= p.x.o.BatchBlocks {
			p.flush()
		}
	}
	return nil
}

func (p *pipeline) flush() {
	if len(p.batch) > 0 {
		p.batches <- p.batch
		p.batch = nil
	}
}

// finish waits for every queued block and reports a cancelled context.
func (p *pipeline) finish() error {
	p.flush()
	close(p.batches)
	p.wg.Wait()
	return p.ctx.Err()
}

// fetch fetches one batch. A block the fetcher never delivered (it
// stopped early) is delivered with its error, so every file is closed.
func (p *pipeline) fetch(b []blockOf) {
	wants := make([]repo.BlockWant, len(b))
	for i, w := range b {
		wants[i] = repo.BlockWant{Type: repo.DataBlock, ID: w.job.n.Blocks[w.i].ID}
	}
	delivered := make([]atomic.Bool, len(b))
	err := p.x.o.Fetch(p.ctx, wants, func(i int, plain []byte, err error) error {
		if delivered[i].Swap(true) {
			return nil
		}
		p.deliver(b[i], plain, err)
		return nil
	})
	if err == nil {
		err = errors.New("block not delivered")
	}
	for i := range b {
		if !delivered[i].Swap(true) {
			p.deliver(b[i], nil, err)
		}
	}
}

// deliver writes one block, or reports why it could not be read, and
// finishes the file after its last block.
func (p *pipeline) deliver(w blockOf, plain []byte, err error) {
	j, ref := w.job, w.job.n.Blocks[w.i]
	if err == nil && len(plain) != int(ref.Len) {
		err = fmt.Errorf("%w: %d bytes, the tree says %d", repo.ErrCorrupt, len(plain), ref.Len)
	}
	if err == nil {
		j.create.Do(func() {
			var perm uint32
			perm, j.made = p.x.createMode(j.n, j.made)
			j.fd, j.err = createFile(j.full, perm, 0) // sized when done, if it ends in a hole
			if j.err != nil {
				j.failed.Store(true)
				p.x.fail(j.p, j.err)
			}
		})
		if j.err != nil {
			err = errCreate
		}
	}
	if errors.Is(err, errCreate) {
		// reported once, above
	} else if err == nil {
		var end int64
		end, err = writeSparse(j.fd, plain, j.offs[w.i])
		if err == nil {
			p.x.bytes.Add(int64(ref.Len))
			for e := j.end.Load(); end > e && !j.end.CompareAndSwap(e, end); e = j.end.Load() {
			}
		}
	}
	if err != nil && !errors.Is(err, errCreate) {
		j.failed.Store(true)
		if p.ctx.Err() == nil {
			p.x.fail(j.p, fmt.Errorf("block %d of %d (%s, at offset %d): %w", w.i+1, len(j.n.Blocks), ref.ID, j.offs[w.i], err))
		}
	}
	if j.left.Add(-1) == 0 {
		p.done(j)
	}
}

// done closes a file whose blocks have all arrived and sets its
// metadata; a file with a missing block keeps owner-only permissions and
// the time of the restore, so it cannot pass for the snapshot's.
func (p *pipeline) done(j *fileJob) {
	defer func() { <-p.open }()
	if j.fd < 0 {
		// Never made: its creation or every block failed. A file
		// made empty tells the user where it belongs.
		if j.err == nil {
			if fd, err := createFile(j.full, 0o600, int64(j.n.Size)); err == nil {
				unix.Close(fd)
			}
		}
		return
	}
	if size := int64(j.n.Size); j.end.Load() < size {
		if err := unix.Ftruncate(j.fd, size); err != nil {
			j.failed.Store(true)
			p.x.fail(j.p, &os.PathError{Op: "truncate", Path: j.full, Err: err})
		}
	}
	if err := unix.Close(j.fd); err != nil {
		p.x.fail(j.p, &os.PathError{Op: "close", Path: j.full, Err: err})
		return
	}
	if j.failed.Load() {
		if j.made&modeSet != 0 {
			// Owner-only, as every incomplete file is (see done).
			_ = unix.Chmod(j.full, 0o600)
		}
		return
	}
	if err := p.x.setMeta(j.full, j.n, j.made); err != nil {
		p.x.fail(j.p, err)
	}
	p.x.files.Add(1)
}

// holeSize is the unit of sparseness: a page-aligned run of this many
// zero bytes is left unwritten, a hole in the file made at full size.
const holeSize = 4096

var zeros [holeSize]byte

// writeSparse writes b at off into a file that holds only zeros there,
// skipping every page-aligned piece that is all zeros, and returns where
// the data it wrote ends (off when it wrote none).
func writeSparse(fd int, b []byte, off int64) (end int64, err error) {
	end = off
	start := -1 // of the run of data not yet written
	for i := 0; i < len(b); {
		n := min(holeSize-int((off+int64(i))%holeSize), len(b)-i)
		if bytes.Equal(b[i:i+n], zeros[:n]) {
			if start >= 0 {
				if err := pwrite(fd, b[start:i], off+int64(start)); err != nil {
					return end, err
				}
				end = off + int64(i)
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += n
	}
	if start >= 0 {
		return off + int64(len(b)), pwrite(fd, b[start:], off+int64(start))
	}
	return end, nil
}

// pwrite writes all of b at off.
func pwrite(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err != nil {
			return &os.PathError{Op: "write", Err: err}
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// errCreate marks the blocks of a file that could not be made, which is
// reported once.
var errCreate = errors.New("file not made")
