package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"coffer/repo"
)

// ErrIncomplete says a restore or dump went on past problems (a damaged
// block or tree, an attribute the target would not take) and did not
// write everything; each problem was reported on its own.
var ErrIncomplete = errors.New("not everything was restored")

// Overwrite says what a restore does with a file already at the target.
type Overwrite int

// Overwrite modes, restic's names.
const (
	// OverwriteAlways replaces every file already there.
	OverwriteAlways Overwrite = iota
	// OverwriteIfChanged keeps a file whose size and contents already
	// match (its metadata is still set), so a restore that was stopped
	// can be run again and finishes where it stopped.
	OverwriteIfChanged
	// OverwriteNever leaves every file already there as it is.
	OverwriteNever
)

// ParseOverwrite reads an --overwrite value.
func ParseOverwrite(s string) (Overwrite, error) {
	switch s {
	case "always":
		return OverwriteAlways, nil
	case "if-changed":
		return OverwriteIfChanged, nil
	case "never":
		return OverwriteNever, nil
	}
	return 0, fmt.Errorf("--overwrite %q: use always, if-changed or never", s)
}

func (o Overwrite) String() string {
	return [...]string{"always", "if-changed", "never"}[o]
}

// Options tune a restore. Zero values pick the defaults.
type Options struct {
	Filter    *Filter // nil: everything
	Overwrite Overwrite
	// DryRun walks and counts what would be restored, and writes nothing.
	DryRun bool
	// OnError hears of each problem as it happens, with the path (from
	// the top, "/…") it concerns. Problems are also counted in Summary.
	OnError func(p string, err error)
	// MaxOpen bounds the files held open while their blocks arrive;
	// default 256.
	MaxOpen int
	// BatchBlocks is how many blocks are handed to the fetcher at once,
	// so it can order and coalesce them by pack; default 2048.
	BatchBlocks int
	// Fetch, if set, replaces how blocks are fetched (tests).
	Fetch FetchFunc
}

// FetchFunc fetches blocks and calls fn once for each, from several
// goroutines; plain is valid only during the call (repo.FetchBlocks).
type FetchFunc func(ctx context.Context, wants []repo.BlockWant, fn func(i int, plain []byte, err error) error) error

// Counts is how far a restore has come; totals from Progress.
type Counts struct {
	Files        int64 `json:"files_restored"`
	Bytes        int64 `json:"bytes_restored"`
	FilesSkipped int64 `json:"files_skipped"`
	BytesSkipped int64 `json:"bytes_skipped"`
	Dirs         int64 `json:"dirs_restored"`
	Others       int64 `json:"others_restored"` // symlinks, hard links, special files
	Errors       int64 `json:"errors"`
}

// Summary is what a finished restore did.
type Summary struct {
	Counts
	TotalFiles int64         `json:"total_files"`
	TotalBytes int64         `json:"total_bytes"`
	Duration   time.Duration `json:"-"`
}

// Restorer restores one tree. Make one per restore.
type Restorer struct {
	r      *repo.Repository
	o      Options
	target string
	chown  bool // root may give files away; others keep their own uid
	uid    int  // who this process is: what a new entry is owned by
	gid    int
	umask  int // this process's, or -1 if unknown

	files, bytes, skipped, skippedBytes, dirs, others, errs atomic.Int64
	totalFiles, totalBytes                                  atomic.Int64

	// Only the walking goroutine touches these.
	made    map[string]bool      // directories (from the top) created or checked
	todo    map[string]repo.Node // directories passed on the way to a selected path, not created yet (copies: no tree kept alive)
	links   map[uint64]string    // hard-link identity -> first name restored (full path)
	later   []laterLink          // hard links made once every file exists
	fresh   map[string]bool      // directories (from the top) this restore made: nothing to find in them
	dirList []dirMeta            // directories whose metadata is set last

	pipe *pipeline
}

type dirMeta struct {
	full string
	node repo.Node
	made made
}

// New prepares a restore from r.
func New(r *repo.Repository, o Options) *Restorer {
	if o.MaxOpen <= 0 {
		o.MaxOpen = 256
	}
	if o.BatchBlocks <= 0 {
		o.BatchBlocks = 2048
	}
	if o.Fetch == nil {
		o.Fetch = r.FetchBlocks
	}
	if o.OnError == nil {
		o.OnError = func(string, error) {}
	}
	return &Restorer{r: r, o: o, chown: os.Geteuid() == 0, uid: os.Geteuid(), gid: os.Getegid(), umask: processUmask(),
		made: map[string]bool{}, fresh: map[string]bool{}, todo: map[string]repo.Node{}, links: map[uint64]string{}}
}

// Progress returns what is done so far and the totals expected (zero
// while unknown); safe to call while Restore runs.
func (x *Restorer) Progress() (done Counts, totalFiles, totalBytes int64) {
	return x.counts(), x.totalFiles.Load(), x.totalBytes.Load()
}

func (x *Restorer) counts() Counts {
	return Counts{Files: x.files.Load(), Bytes: x.bytes.Load(), FilesSkipped: x.skipped.Load(),
		BytesSkipped: x.skippedBytes.Load(), Dirs: x.dirs.Load(), Others: x.others.Load(), Errors: x.errs.Load()}
}

// fail reports a problem with path p (from the top) and counts it.
func (x *Restorer) fail(p string, err error) {
	x.errs.Add(1)
	x.o.OnError(p, err)
}

// Restore writes node (a directory's contents, or one file) into target,
// which is made if missing; a directory's own metadata goes to target
// itself, a file is restored as target/NAME. It returns ErrIncomplete
// (with the summary) when something could not be restored; every such
// problem went to OnError.
func (x *Restorer) Restore(ctx context.Context, node repo.Node, target string) (Summary, error) {
	start := time.Now()
	abs, err := filepath.Abs(target)
	if err != nil {
		return Summary{}, err
	}
	x.target = abs
	if x.o.Filter.Everything() {
		x.totalFiles.Store(int64(node.Files))
		x.totalBytes.Store(int64(node.Bytes))
		if node.Type == repo.TypeFile {
			x.totalFiles.Store(1)
			x.totalBytes.Store(int64(node.Size))
		}
	}
	if !x.o.DryRun {
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return Summary{}, fmt.Errorf("target: %w", err)
		}
	}
	x.made["/"] = true
	x.pipe = newPipeline(ctx, x)
	if node.Type == repo.TypeDir {
		x.dirList = append(x.dirList, dirMeta{full: abs, node: node, made: existed})
		err = loadTreesAhead(ctx, x.r, node.Subtree)
		if err == nil {
			err = walkPaths(ctx, x.r, node.Subtree, x.descend, x.fail, x.visit)
		}
	} else {
		err = x.entry(ctx, "/", node)
	}
	if perr := x.pipe.finish(); err == nil {
		err = perr
	}
	if err != nil {
		return x.summary(start), err
	}
	x.linkAll()
	if !x.o.DryRun {
		x.setDirMeta()
	}
	sum := x.summary(start)
	if sum.Errors > 0 {
		return sum, ErrIncomplete
	}
	return sum, nil
}

func (x *Restorer) summary(start time.Time) Summary {
	return Summary{Counts: x.counts(), TotalFiles: x.totalFiles.Load(), TotalBytes: x.totalBytes.Load(),
		Duration: time.Since(start)}
}

func (x *Restorer) descend(p string) bool {
	return x.o.Filter == nil || x.o.Filter.Descend(p)
}

func (x *Restorer) selected(p string) bool {
	return x.o.Filter == nil || x.o.Filter.Selected(p)
}

// visit restores the entries of directory dir (from the top).
func (x *Restorer) visit(ctx context.Context, dir string, t *repo.Tree) error {
	for i := range t.Nodes {
		n := &t.Nodes[i]
		p := path.Join(dir, n.Name)
		if n.Type == repo.TypeDir {
			if !x.descend(p) {
				continue
			}
			if !x.selected(p) {
				x.todo[p] = *n // made only if something beneath is selected
				continue
			}
		} else if !x.selected(p) {
			continue
		}
		if err := x.entry(ctx, dir, *n); err != nil {
			return err
		}
	}
	return nil
}

// entry restores one node into directory dir (from the top). Only a
// cancelled context or a failed pipeline ends the restore; every other
// problem is reported and counted.
func (x *Restorer) entry(ctx context.Context, dir string, n repo.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := path.Join(dir, n.Name)
	if err := x.ensureDir(dir); err != nil {
		x.fail(dir, err)
		return nil
	}
	full := filepath.Join(x.target, filepath.FromSlash(p))
	if x.o.DryRun {
		x.count(n)
		if n.Type == repo.TypeDir {
			x.made[p] = true
		}
		return nil
	}
	fi, err := x.lstat(dir, full)
	if err == nil {
		switch n.Type {
		case repo.TypeDir:
			err = x.mkdir(p, full, n, fi)
		case repo.TypeFile:
			err = x.file(ctx, p, full, n, fi, x.fresh[dir])
		case repo.TypeSymlink:
			err = x.symlink(full, n, fi, x.fresh[dir])
		default:
			err = x.special(full, n, fi, x.fresh[dir])
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err != nil {
		x.fail(p, err)
	}
	return nil
}

// count counts n as restored (for a dry run).
func (x *Restorer) count(n repo.Node) {
	switch n.Type {
	case repo.TypeDir:
		x.dirs.Add(1)
	case repo.TypeFile:
		x.files.Add(1)
		x.bytes.Add(int64(n.Size))
	default:
		x.others.Add(1)
	}
}

// ensureDir makes directory dir (from the top) and the directories above
// it that a filter passed over without making.
func (x *Restorer) ensureDir(dir string) error {
	if x.made[dir] {
		return nil
	}
	if err := x.ensureDir(path.Dir(dir)); err != nil {
		return err
	}
	n, ok := x.todo[dir]
	if !ok {
		return fmt.Errorf("directory %s was not restored", dir)
	}
	delete(x.todo, dir)
	if x.o.DryRun {
		x.made[dir] = true
		x.dirs.Add(1)
		return nil
	}
	full := filepath.Join(x.target, filepath.FromSlash(dir))
	fi, err := x.lstat(path.Dir(dir), full)
	if err != nil {
		return err
	}
	return x.mkdir(dir, full, n, fi)
}

// lstat returns what is at full, in directory dir (from the top), or
// nil when nothing is; in a directory this restore made, nothing is.
func (x *Restorer) lstat(dir, full string) (os.FileInfo, error) {
	if x.fresh[dir] {
		return nil, nil
	}
	fi, err := os.Lstat(full)
	if os.IsNotExist(err) {
		return nil, nil
	}
	return fi, err
}

// mkdir makes directory p (from the top) at full, owner-only until its
// metadata is set last, or takes the directory already there.
func (x *Restorer) mkdir(p, full string, n repo.Node, fi os.FileInfo) error {
	had := false
	switch {
	case fi != nil && fi.IsDir():
		had = true
	case fi != nil && x.o.Overwrite == OverwriteNever:
		return fmt.Errorf("not a directory, and --overwrite never keeps it")
	case fi != nil:
		if err := os.Remove(full); err != nil {
			return err
		}
		fallthrough
	default:
		if err := os.Mkdir(full, 0o700); err != nil {
			return err
		}
	}
	x.made[p] = true
	x.fresh[p] = !had
	x.dirs.Add(1)
	how := madeHere(!had && x.fresh[path.Dir(p)])
	if had {
		how = existed
	}
	x.dirList = append(x.dirList, dirMeta{full: full, node: n, made: how})
	return nil
}

// setDirMeta sets every directory's metadata, deepest first, once
// nothing more is written inside them.
func (x *Restorer) setDirMeta() {
	list := x.dirList
	slices.SortStableFunc(list, func(a, b dirMeta) int { return len(b.full) - len(a.full) })
	for _, d := range list {
		if err := x.setMeta(d.full, d.node, d.made); err != nil {
			rel, _ := filepath.Rel(x.target, d.full)
			x.fail(path.Join("/", filepath.ToSlash(rel)), err)
		}
	}
}
