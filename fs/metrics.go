package fs

// Code below is one method per FUSE operation; each times the call.

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Observer hears how long each FUSE request took to answer, by
// operation ("lookup", "read", "write", ...): the metrics' latency
// histogram.
type Observer func(op string, took time.Duration)

// Timed wraps raw so that obs hears of every request it answers. go-fuse
// v2.12's own latency hook (Server.RecordLatencies) is a no-op kept for
// compatibility, so the timing happens here, around the node bridge.
// Forget, Init and OnUnmount are not requests a process waits for and
// pass through untimed.
func Timed(raw fuse.RawFileSystem, obs Observer) fuse.RawFileSystem {
	if obs == nil {
		return raw
	}
	return &timedFS{RawFileSystem: raw, obs: obs}
}

// Serve serves raw at dir until it is unmounted, returning once the
// mount is up: fusefs.Mount for a file system that is not a node tree.
func Serve(dir string, raw fuse.RawFileSystem, o *fuse.MountOptions) (*fuse.Server, error) {
	server, err := fuse.NewServer(raw, dir, o)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, err
	}
	return server, nil
}

type timedFS struct {
	fuse.RawFileSystem
	obs Observer
}

var _ fuse.RawFileSystem = (*timedFS)(nil)

func (t *timedFS) since(op string, start time.Time) { t.obs(op, time.Since(start)) }

func (t *timedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer t.since("lookup", time.Now())
	return t.RawFileSystem.Lookup(cancel, header, name, out)
}

func (t *timedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer t.since("getattr", time.Now())
	return t.RawFileSystem.GetAttr(cancel, in, out)
}

func (t *timedFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer t.since("setattr", time.Now())
	return t.RawFileSystem.SetAttr(cancel, in, out)
}

func (t *timedFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	defer t.since("mknod", time.Now())
	return t.RawFileSystem.Mknod(cancel, in, name, out)
}

func (t *timedFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	defer t.since("mkdir", time.Now())
	return t.RawFileSystem.Mkdir(cancel, in, name, out)
}

func (t *timedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	defer t.since("unlink", time.Now())
	return t.RawFileSystem.Unlink(cancel, header, name)
}

func (t *timedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	defer t.since("rmdir", time.Now())
	return t.RawFileSystem.Rmdir(cancel, header, name)
}

func (t *timedFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName string, newName string) fuse.Status {
	defer t.since("rename", time.Now())
	return t.RawFileSystem.Rename(cancel, in, oldName, newName)
}

func (t *timedFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	defer t.since("link", time.Now())
	return t.RawFileSystem.Link(cancel, in, name, out)
}

func (t *timedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, target string, name string, out *fuse.EntryOut) fuse.Status {
	defer t.since("symlink", time.Now())
	return t.RawFileSystem.Symlink(cancel, header, target, name, out)
}

func (t *timedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	defer t.since("readlink", time.Now())
	return t.RawFileSystem.Readlink(cancel, header)
}

func (t *timedFS) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	defer t.since("access", time.Now())
	return t.RawFileSystem.Access(cancel, in)
}

func (t *timedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	defer t.since("getxattr", time.Now())
	return t.RawFileSystem.GetXAttr(cancel, header, attr, dest)
}

func (t *timedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	defer t.since("listxattr", time.Now())
	return t.RawFileSystem.ListXAttr(cancel, header, dest)
}

func (t *timedFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	defer t.since("setxattr", time.Now())
	return t.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (t *timedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	defer t.since("removexattr", time.Now())
	return t.RawFileSystem.RemoveXAttr(cancel, header, attr)
}

func (t *timedFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	defer t.since("create", time.Now())
	return t.RawFileSystem.Create(cancel, in, name, out)
}

func (t *timedFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	defer t.since("tmpfile", time.Now())
	return t.RawFileSystem.Tmpfile(cancel, in, out)
}

func (t *timedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.since("open", time.Now())
	return t.RawFileSystem.Open(cancel, in, out)
}

func (t *timedFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer t.since("read", time.Now())
	return t.RawFileSystem.Read(cancel, in, buf)
}

func (t *timedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	defer t.since("lseek", time.Now())
	return t.RawFileSystem.Lseek(cancel, in, out)
}

func (t *timedFS) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	defer t.since("getlk", time.Now())
	return t.RawFileSystem.GetLk(cancel, in, out)
}

func (t *timedFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	defer t.since("setlk", time.Now())
	return t.RawFileSystem.SetLk(cancel, in)
}

func (t *timedFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	defer t.since("setlkw", time.Now())
	return t.RawFileSystem.SetLkw(cancel, in)
}

func (t *timedFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	defer t.since("release", time.Now())
	t.RawFileSystem.Release(cancel, in)
}

func (t *timedFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	defer t.since("write", time.Now())
	return t.RawFileSystem.Write(cancel, in, data)
}

func (t *timedFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	defer t.since("write", time.Now())
	return t.RawFileSystem.Writev(cancel, in, data)
}

func (t *timedFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	defer t.since("copy_file_range", time.Now())
	return t.RawFileSystem.CopyFileRange(cancel, in)
}

func (t *timedFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	defer t.since("ioctl", time.Now())
	return t.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
}

func (t *timedFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer t.since("flush", time.Now())
	return t.RawFileSystem.Flush(cancel, in)
}

func (t *timedFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer t.since("fsync", time.Now())
	return t.RawFileSystem.Fsync(cancel, in)
}

func (t *timedFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	defer t.since("fallocate", time.Now())
	return t.RawFileSystem.Fallocate(cancel, in)
}

func (t *timedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.since("opendir", time.Now())
	return t.RawFileSystem.OpenDir(cancel, in, out)
}

func (t *timedFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.since("readdir", time.Now())
	return t.RawFileSystem.ReadDir(cancel, in, out)
}

func (t *timedFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.since("readdirplus", time.Now())
	return t.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (t *timedFS) ReleaseDir(in *fuse.ReleaseIn) {
	defer t.since("releasedir", time.Now())
	t.RawFileSystem.ReleaseDir(in)
}

func (t *timedFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer t.since("fsyncdir", time.Now())
	return t.RawFileSystem.FsyncDir(cancel, in)
}

func (t *timedFS) StatFs(cancel <-chan struct{}, header *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer t.since("statfs", time.Now())
	return t.RawFileSystem.StatFs(cancel, header, out)
}

func (t *timedFS) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	defer t.since("statx", time.Now())
	return t.RawFileSystem.Statx(cancel, in, out)
}
