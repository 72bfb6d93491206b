package main

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"coffer/fs"
)

// fuseOptions are the mount options of head and snapshot mounts.
func fuseOptions(allowOther bool) *fusefs.Options {
	return &fusefs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther:   allowOther,
			FsName:       "coffer",
			Name:         "coffer",
			MaxWrite:     1 << 20,
			MaxReadAhead: 1 << 20,
			DirectMount:  true,
			// coffer serves reads from memory; splicing them through a
			// pipe gains nothing and fails noisily for 1 MiB requests.
			DisableSplice: true,
			Debug:         os.Getenv("COFFER_FUSE_DEBUG") != "",
			Options:       permissionOptions(allowOther),
			// O_TRUNC must reach Open: a committed file may be opened
			// for writing only to be replaced.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | capHandleKillprivV2,
			// POSIX ACLs travel as system.posix_acl_* xattrs and are
			// kept in snapshots (rsync -A) either way; coffer applies
			// them to the mode as ext4 does (fs/acl.go). The kernel
			// enforces them only when others may use the mount: its ACL
			// support turns on its permission checks (see
			// permissionOptions), which cost a GETATTR of the directory
			// after every create, rename or unlink in it, two of the
			// nineteen requests rsync spent per file.
			EnableAcl:            allowOther,
			EnableSymlinkCaching: true,
		},
		NullPermissions: true,
	}
}

// capHandleKillprivV2 is Linux's FUSE_HANDLE_KILLPRIV_V2: the kernel stops
// asking for security.capability before every write. coffer's files are
// written only while new, by their creator, so there is no privilege to
// kill.
const capHandleKillprivV2 = 1 << 28

// headCacheTimeout is how long the kernel may trust what it learnt of the
// head. Within one rsync run, each name is looked up about twice.
const headCacheTimeout = time.Minute

// requestCounts is the counter of FUSE requests that COFFER_FUSE_COUNTS=FILE
// asks for (nil without it), and the function that writes the counts to
// FILE as JSON {op: count} when the mount ends. A tool for benchmarks and
// developers, like COFFER_FUSE_DEBUG.
func requestCounts(log *slog.Logger) (*fs.RequestCounts, func()) {
	path := os.Getenv("COFFER_FUSE_COUNTS")
	if path == "" {
		return nil, func() {}
	}
	c := &fs.RequestCounts{}
	return c, func() {
		if err := c.WriteFile(path); err != nil {
			log.Warn("FUSE request counts not written", "file", path, "err", err)
		}
	}
}

// raiseReadahead lets the kernel read ahead up to 4 MiB on the mount (its
// default for FUSE is 128 KiB), so sequential restores keep several blocks
// in flight. It needs root; without it the default stays.
func raiseReadahead(mp string, log *slog.Logger) {
	var st syscall.Stat_t
	if err := syscall.Stat(mp, &st); err != nil {
		return
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(path, []byte("4096"), 0o644); err != nil {
		log.Debug("readahead unchanged", "err", err)
	}
}

// permissionOptions asks the kernel to check permissions (and ACLs) when
// other users may use the mount. Without --allow-other only the mounting
// user gets in, and the checks would cost an attribute refresh on many
// operations for nothing. (The kernel's POSIX ACL support turns the checks
// on by itself, so it goes with them: see fuseOptions.)
func permissionOptions(allowOther bool) []string {
	if allowOther {
		return []string{"default_permissions"}
	}
	return nil
}
