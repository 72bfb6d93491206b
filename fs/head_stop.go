package fs

import (
	"path"
	"slices"
	"syscall"

	"coffer/repo"
)

// A stop (SIGINT, SIGTERM, `coffer umount`) must not drop a file that is
// still being written: the daemon first refuses new opens for writing,
// then waits for the files already open to close, and commits them. The
// head's part of that is here; the waiting and its bound are the daemon's.

// errStopping is what an open for writing gets once a stop has begun: the
// head is about to become a read-only snapshot.
const errStopping = syscall.EROFS

// BeginStop refuses new opens for writing and new files (EROFS) from now
// on. When it returns, every open that got past the check has registered
// its writer, so OpenWriters sees it.
func (h *Head) BeginStop() {
	h.stopping.Store(true)
	// Opens hold treeMu shared from their check to their registration.
	h.treeMu.Lock()
	h.treeMu.Unlock() // an empty section: a barrier, nothing to guard
}

// EndStop lets files be opened for writing again, after a stop was called
// off (the mount stays).
func (h *Head) EndStop() { h.stopping.Store(false) }

// refuseWrites reports whether new writers are refused because of a stop.
// Called with treeMu held shared.
func (h *Head) refuseWrites() bool { return h.stopping.Load() }

// OpenWriters lists the files open for writing, as paths from the mount's
// root ("/dir/file"), sorted. A commit now would leave them out.
func (h *Head) OpenWriters() []string {
	var out []string
	seen := map[*node]bool{}
	var walk func(dir *node, at string)
	walk = func(dir *node, at string) {
		// A shed directory still holds its subdirectories, where
		// files may be open; its own files were all closed.
		for _, k := range dir.entryList() {
			name, c := k.name, k.node
			if seen[c] {
				continue
			}
			seen[c] = true
			p := path.Join(at, name)
			switch c.kind {
			case repo.TypeDir:
				walk(c, p)
			case repo.TypeFile:
				c.mu.Lock()
				open := c.writer != nil && c.writers > 0
				c.mu.Unlock()
				if open {
					out = append(out, p)
				}
			}
		}
	}
	walk(h.root, "/")
	slices.Sort(out)
	return out
}
