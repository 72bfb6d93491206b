package fs

import (
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mount serves the head on dir and returns once the kernel has mounted it.
// It is fusefs.Mount with one addition: the kernel leaves the creator's
// umask to coffer (FUSE's DONT_MASK), which applies it as ext4 does, not
// under a default ACL: there the ACL alone decides a new entry's mode.
// obs, if not nil, hears how long each request took.
func (h *Head) Mount(dir string, opts *fusefs.Options, obs Observer) (*fuse.Server, error) {
	o := *opts
	o.ExtraCapabilities |= fuse.CAP_DONT_MASK
	raw := &umaskFS{RawFileSystem: fusefs.NewNodeFS(h.root, &o)}
	return Serve(dir, Timed(raw, obs), &o.MountOptions)
}

// umaskFS applies the umask each create request carries, unless the
// parent directory has a default ACL.
type umaskFS struct {
	fuse.RawFileSystem
}

// mode is the mode to create with in the directory parent: as asked, or
// without the umask's bits. Applying a umask the kernel already applied
// (without DONT_MASK) changes nothing.
func (u *umaskFS) mode(cancel <-chan struct{}, in *fuse.InHeader, mode, umask uint32) uint32 {
	_, st := u.GetXAttr(cancel, &fuse.InHeader{NodeId: in.NodeId, Caller: in.Caller}, aclDefault, nil)
	if st == fuse.OK {
		return mode
	}
	return mode &^ (umask & 0777)
}

func (u *umaskFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	in.Mode = u.mode(cancel, &in.InHeader, in.Mode, in.Umask)
	return u.RawFileSystem.Mkdir(cancel, in, name, out)
}

func (u *umaskFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	in.Mode = u.mode(cancel, &in.InHeader, in.Mode, in.Umask)
	return u.RawFileSystem.Mknod(cancel, in, name, out)
}

func (u *umaskFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	in.Mode = u.mode(cancel, &in.InHeader, in.Mode, in.Umask)
	return u.RawFileSystem.Create(cancel, in, name, out)
}
