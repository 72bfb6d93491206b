package local

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"coffer/objectstore"
)

// Names the layout reserves; '@' never occurs in a key.
const (
	objSuffix = "@obj"
	retSuffix = "@ret"
	tmpDir    = "@tmp"
	lockFile  = "@lock"
)

// Store is an objectstore.Store on a local directory. It is safe for
// concurrent use, and Puts are safe across processes sharing the
// directory.
type Store struct {
	dir   string           // absolute root; read-only after New
	clock func() time.Time // read-only after New

	mu   sync.Mutex // serialises Delete and ExtendRetention in this process
	lock *os.File   // guarded by mu; @lock, opened on first use
}

var (
	_ objectstore.Store        = (*Store)(nil)
	_ objectstore.DeleteProber = (*Store)(nil)
)

// New opens the store in dir, which must exist (ErrNoBucket otherwise),
// judging retention against clock (nil means time.Now). It creates
// nothing: the reserved temp directory and lock file appear with the
// first Put, so reading a directory that is not a repository leaves it
// as it was. Close releases the lock file.
func New(dir string, clock func() time.Time) (*Store, error) {
	if clock == nil {
		clock = time.Now
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("local: directory %s: %w", abs, objectstore.ErrNoBucket)
	}
	if err != nil {
		return nil, translateError("open", abs, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("local: %s is not a directory: %w", abs, objectstore.ErrNoBucket)
	}
	return &Store{dir: abs, clock: clock}, nil
}

// Close releases the store's lock file. The store must not be used after.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// objPath and retPath map a checked key to its files.
func (s *Store) objPath(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key)) + objSuffix
}

func (s *Store) retPath(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key)) + retSuffix
}

// Put writes header and data to a temp file, fsyncs it, links it to the
// key's name (link(2) fails rather than replace, so an existing key is
// ErrExists and nothing changes) and fsyncs the directory.
func (s *Store) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return "", err
	}
	if !ret.IsZero() && ret.Mode == "" {
		ret.Mode = objectstore.Compliance
	}
	tmp, err := s.writeTemp(func(f *os.File) error { return writeObject(f, ret, data) })
	if err != nil {
		return "", translateError("put", key, err)
	}
	defer os.Remove(tmp)
	final := s.objPath(key)
	if err := s.mkdirs(filepath.Dir(final)); err != nil {
		return "", translateError("put", key, err)
	}
	if err := os.Link(tmp, final); err != nil {
		return "", translateError("put", key, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return "", translateError("put", key, err)
	}
	return VersionID, nil
}

// writeObject writes an object file's header and data to f; the header,
// which holds the data's checksum, is written last.
func writeObject(f *os.File, ret objectstore.Retention, data []byte) error {
	w := objectWriter{f: f, off: headerSize}
	if err := w.writeData(data, directStart(data)); err != nil {
		return err
	}
	_, err := f.WriteAt(header{retention: ret, sum: w.sum}.encode(), 0)
	return err
}

// objectWriter writes an object's data after its header, checksumming it.
type objectWriter struct {
	f   *os.File
	off int64  // where the next byte goes
	sum uint32 // CRC-32C of the data written so far
}

// writeData writes data. Each piece is checksummed just before it is
// written, while it is in the CPU's cache, rather than in a pass of its
// own over the whole object (for a 16 MiB pack, one more trip through
// memory). From data[lo] on, when lo > 0 (see directStart), the whole
// 4 KiB blocks of the file are written around the page cache: an object
// is fsynced at once and rarely read back soon, so copying it into the
// page cache and writing the cache back later is work for nothing. A file
// system that refuses O_DIRECT, at once or on the first write, gets the
// rest through the cache.
func (w *objectWriter) writeData(data []byte, lo int) error {
	if lo > 0 {
		if err := w.write(data[:lo]); err != nil {
			return err
		}
		data = data[lo:]
		if setDirect(w.f, true) == nil {
			n := len(data) / directBlock * directBlock
			written, err := w.writeDirect(data[:n])
			if uerr := setDirect(w.f, false); err == nil {
				err = uerr
			}
			if errors.Is(err, syscall.EINVAL) {
				n, err = written, nil
			}
			if err != nil {
				return err
			}
			data = data[n:]
		}
	}
	return w.write(data)
}

// writeDirect writes data in one call, so that the device sees all of it
// at once, and returns how much it wrote. The cache cannot help the
// checksum here: the device reads the data from memory.
func (w *objectWriter) writeDirect(data []byte) (int, error) {
	written := 0
	var err error
	for written < len(data) && err == nil {
		var n int
		n, err = w.f.WriteAt(data[written:], w.off)
		written += n
		w.off += int64(n)
	}
	w.sum = crc32.Update(w.sum, castagnoli, data[:written])
	return written, err
}

// write writes data through the page cache.
func (w *objectWriter) write(data []byte) error {
	for len(data) > 0 {
		piece := data[:min(len(data), checksumPiece)]
		w.sum = crc32.Update(w.sum, castagnoli, piece)
		if _, err := w.f.WriteAt(piece, w.off); err != nil {
			return err
		}
		w.off += int64(len(piece))
		data = data[len(piece):]
	}
	return nil
}

// checksumPiece is how much of an object is checksummed and written at a
// time: well within a core's cache.
const checksumPiece = 256 << 10

// writeTemp creates a new read-only file in @tmp, has write fill it,
// stamps its modification time from the store's clock, fsyncs it and
// returns its path.
func (s *Store) writeTemp(write func(f *os.File) error) (path string, err error) {
	tmp := filepath.Join(s.dir, tmpDir)
	f, err := os.CreateTemp(tmp, "put-*")
	if errors.Is(err, fs.ErrNotExist) {
		// The first write: create the temp directory and the lock
		// file, durably, so the layout is complete from now on.
		if err := os.Mkdir(tmp, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		lock, lerr := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
		if lerr != nil {
			return "", lerr
		}
		lock.Close()
		if err := syncDir(s.dir); err != nil {
			return "", err
		}
		f, err = os.CreateTemp(tmp, "put-*")
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o444); err != nil {
		return "", err
	}
	if err := write(f); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	now := s.clock()
	if err := os.Chtimes(f.Name(), now, now); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// mkdirs creates dir and any missing parents below the root, fsyncing
// each new directory's parent so the path survives a crash.
func (s *Store) mkdirs(dir string) error {
	rel, err := filepath.Rel(s.dir, dir)
	if err != nil || rel == "." {
		return err
	}
	cur := s.dir
	for _, seg := range strings.Split(rel, string(filepath.Separator)) {
		next := filepath.Join(cur, seg)
		err := os.Mkdir(next, 0o755)
		switch {
		case err == nil:
			if err := syncDir(cur); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		cur = next
	}
	return nil
}

// syncDir fsyncs a directory so entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
