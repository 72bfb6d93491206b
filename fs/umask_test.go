package fs

import (
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// fakeRaw records the modes umaskFS passes on; directory 1 has a default
// ACL, every other one has none.
type fakeRaw struct {
	fuse.RawFileSystem
	got []uint32
}

func (f *fakeRaw) GetXAttr(cancel <-chan struct{}, in *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if in.NodeId == 1 && attr == aclDefault {
		return 28, fuse.OK
	}
	return 0, fuse.ENODATA
}

func (f *fakeRaw) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	f.got = append(f.got, in.Mode)
	return fuse.OK
}

func (f *fakeRaw) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	f.got = append(f.got, in.Mode)
	return fuse.OK
}

func (f *fakeRaw) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	f.got = append(f.got, in.Mode)
	return fuse.OK
}

// TestUmask: the umask applies, except in a directory with a default ACL.
func TestUmask(t *testing.T) {
	f := &fakeRaw{}
	u := &umaskFS{RawFileSystem: f}
	for _, dir := range []uint64{1, 2} {
		h := fuse.InHeader{NodeId: dir}
		u.Mkdir(nil, &fuse.MkdirIn{InHeader: h, Mode: 0777, Umask: 022}, "d", nil)
		u.Mknod(nil, &fuse.MknodIn{InHeader: h, Mode: fuse.S_IFIFO | 0666, Umask: 027}, "p", nil)
		u.Create(nil, &fuse.CreateIn{InHeader: h, Mode: 0666, Umask: 077}, "f", nil)
	}
	want := []uint32{0777, fuse.S_IFIFO | 0666, 0666, 0755, fuse.S_IFIFO | 0640, 0600}
	for i := range want {
		if i >= len(f.got) || f.got[i] != want[i] {
			t.Fatalf("modes passed on = %o, want %o", f.got, want)
		}
	}
}
