package local

import (
	"errors"
	"io"
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

// readDirect reads length bytes at off (a file offset) of f around the
// page cache: the whole directBlocks that hold them, into memory aligned
// for it. A cold pack read then costs the disk's DMA into the buffer and
// nothing more: no page-cache pages to fill and reclaim, no copy out of
// them. The packs were written around the cache too (writeData). Any
// failure (a file system without O_DIRECT, a device with larger blocks)
// returns an error with f set back to reading through the cache; the
// caller then does, and reports the real error if there is one. On
// success f is left in O_DIRECT mode.
func readDirect(f *os.File, off, length int64) ([]byte, error) {
	if err := setDirect(f, true); err != nil {
		return nil, err
	}
	lo := off &^ (directBlock - 1)
	hi := (off + length + directBlock - 1) &^ (directBlock - 1)
	buf := alignedBuffer(int(hi - lo))
	n, err := f.ReadAt(buf, lo)
	if int64(n) < off+length-lo {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		if err2 := setDirect(f, false); err2 != nil { // for the read through the cache
			return nil, errors.Join(err, err2)
		}
		return nil, err
	}
	// Past the end of file the last block is short (io.EOF): the bytes
	// asked for are all there.
	start := off - lo
	return buf[start : start+length : start+length], nil
}

// alignedBuffer returns n bytes starting at a multiple of directBlock in
// memory. Go's large allocations nearly always are; otherwise it takes a
// block more and skips to the boundary.
func alignedBuffer(n int) []byte {
	buf := make([]byte, n)
	if misaligned(buf) == 0 {
		return buf
	}
	buf = make([]byte, n+directBlock)
	k := (directBlock - misaligned(buf)) % directBlock
	return buf[k : k+n : k+n]
}

func misaligned(b []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directBlock)
}
