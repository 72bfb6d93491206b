package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"coffer/objectstore"
)

// Get reads the whole object and verifies it against the CRC-32C in its
// header; a mismatch is ErrCorrupt.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(s.objPath(key))
	if err != nil {
		return nil, translateError("get", key, err)
	}
	h, err := decodeHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("local get %s: %w", key, err)
	}
	data := raw[headerSize:]
	if checksum(data) != h.sum {
		return nil, fmt.Errorf("local get %s: %w: checksum mismatch", key, objectstore.ErrCorrupt)
	}
	return data, nil
}

// directReadMin is the shortest range GetRange reads around the page
// cache (readDirect): data blocks are at least 256 KiB but for a file's
// last one. Shorter reads (tree blocks, small files, the ends of files)
// go through the cache, whose read-ahead serves their neighbours in the
// pack from the same disk read.
const directReadMin = 128 << 10

// GetRange reads exactly length bytes from off without verifying the
// checksum (which covers the whole object).
func (s *Store) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.objPath(key))
	if err != nil {
		return nil, translateError("get range", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, translateError("get range", key, err)
	}
	size := st.Size() - headerSize
	if size < 0 {
		return nil, fmt.Errorf("local get %s: %w: file shorter than its header", key, objectstore.ErrCorrupt)
	}
	if off < 0 || length < 0 || off+length > size {
		return nil, fmt.Errorf("local get %s [%d,+%d) of %d bytes: %w", key, off, length, size, objectstore.ErrInvalidRange)
	}
	if length >= directReadMin {
		if buf, err := readDirect(f, headerSize+off, length); err == nil {
			return buf, nil
		}
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, headerSize+off); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, translateError("get range", key, err)
	}
	return buf, nil
}

// Head reports size, upload time and the effective retention: the later
// of the date in the object's header and the one in its sidecar.
func (s *Store) Head(ctx context.Context, key string) (objectstore.Info, error) {
	if err := objectstore.CheckCall(ctx, key); err != nil {
		return objectstore.Info{}, err
	}
	return s.head(key)
}

// head is Head without the argument checks.
func (s *Store) head(key string) (objectstore.Info, error) {
	f, err := os.Open(s.objPath(key))
	if err != nil {
		return objectstore.Info{}, translateError("head", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return objectstore.Info{}, translateError("head", key, err)
	}
	buf := make([]byte, headerSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return objectstore.Info{}, fmt.Errorf("local head %s: %w: %v", key, objectstore.ErrCorrupt, err)
	}
	h, err := decodeHeader(buf)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("local head %s: %w", key, err)
	}
	ret, err := s.readSidecar(key)
	if err != nil {
		return objectstore.Info{}, err
	}
	eff := later(h.retention, ret)
	return objectstore.Info{
		Key:         key,
		Size:        st.Size() - headerSize,
		Modified:    st.ModTime(),
		RetainUntil: eff.Until,
		Mode:        eff.Mode,
		VersionID:   VersionID,
	}, nil
}

// List reports every key under prefix in lexical order, with size and
// upload time. It walks only the directory the prefix names, collects
// the keys and sorts them, since a directory walk's order is not the
// keys' byte order ("a/x" sorts after "a-b").
func (s *Store) List(ctx context.Context, prefix string, fn func(objectstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := objectstore.CheckPrefix(prefix); err != nil {
		return err
	}
	start := s.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(s.dir, filepath.FromSlash(prefix[:i]))
	}
	var infos []objectstore.Info
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(s.dir, tmpDir) {
				return fs.SkipDir
			}
			// A directory whose keys cannot have the prefix is not
			// walked (a prefix such as "config" starts at the top).
			if rel, err := filepath.Rel(s.dir, path); err == nil && rel != "." {
				dir := filepath.ToSlash(rel) + "/"
				if !strings.HasPrefix(dir, prefix) && !strings.HasPrefix(prefix, dir) {
					return fs.SkipDir
				}
			}
			return nil
		}
		name, ok := strings.CutSuffix(path, objSuffix)
		if !ok {
			return nil // sidecars, the lock file
		}
		rel, err := filepath.Rel(s.dir, name)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		infos = append(infos, objectstore.Info{Key: key, Size: fi.Size() - headerSize, Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return translateError("list", prefix, err)
	}
	return objectstore.Visit(ctx, infos, fn)
}
