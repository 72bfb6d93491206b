package local

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directBlock is the alignment, in memory and in the file, of writes that
// go around the page cache.
const directBlock = 4096

// setDirect turns O_DIRECT on or off for f's later writes.
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		var flags int
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
		if ferr != nil {
			return
		}
		if on {
			flags |= syscall.O_DIRECT
		} else {
			flags &^= syscall.O_DIRECT
		}
		_, ferr = unix.FcntlInt(fd, unix.F_SETFL, flags)
	})
	if err != nil {
		return err
	}
	return ferr
}

// directStart returns the index in data (written at file offset headerSize)
// from which whole directBlocks of data are aligned both in memory and in
// the file, or -1 when data's memory is not laid out for it.
func directStart(data []byte) int {
	lo := directBlock - headerSize
	if len(data) < lo+directBlock {
		return -1
	}
	if uintptr(unsafe.Pointer(&data[lo]))%directBlock != 0 {
		return -1
	}
	return lo
}
