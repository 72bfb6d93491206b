package local

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"coffer/objectstore"
)

// headerSize is the length of the header that starts every object file.
const headerSize = 64

// magic starts every object file; its last byte is the format version.
var magic = [8]byte{'C', 'O', 'F', 'F', 'O', 'B', 'J', 1}

// header is the fixed part of an object file, in this layout (big-endian):
//
//	0:8    magic
//	8:9    retention mode: 0 none, 1 COMPLIANCE, 2 GOVERNANCE
//	9:16   zero
//	16:24  retain-until, Unix nanoseconds (0 if none)
//	24:32  zero
//	32:36  CRC-32C (Castagnoli) of the data that follows
//	36:64  zero
//
// The checksum guards against the disk returning damaged bytes. It need
// not resist forgery: everything coffer stores is authenticated by its own
// AES-GCM tags. CRC-32C runs in hardware at many GB/s, where SHA-256 cost a
// quarter of the daemon's CPU while writing.
type header struct {
	retention objectstore.Retention
	sum       uint32
}

// modeByte and byteMode convert between a mode and its stored byte.
func modeByte(m objectstore.Mode) byte {
	switch m {
	case objectstore.Compliance:
		return 1
	case objectstore.Governance:
		return 2
	}
	return 0
}

func byteMode(b byte) (objectstore.Mode, error) {
	switch b {
	case 0:
		return "", nil
	case 1:
		return objectstore.Compliance, nil
	case 2:
		return objectstore.Governance, nil
	}
	return "", fmt.Errorf("unknown retention mode byte %d", b)
}

// encode returns the header's bytes.
func (h header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, magic[:])
	if !h.retention.IsZero() {
		b[8] = modeByte(h.retention.Mode)
		binary.BigEndian.PutUint64(b[16:24], uint64(h.retention.Until.UnixNano()))
	}
	binary.BigEndian.PutUint32(b[32:36], h.sum)
	return b
}

// decodeHeader parses the first headerSize bytes of an object file. A
// malformed header means the file was damaged: ErrCorrupt.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize || !bytes.Equal(b[:8], magic[:]) {
		return h, fmt.Errorf("%w: bad object header", objectstore.ErrCorrupt)
	}
	mode, err := byteMode(b[8])
	if err != nil {
		return h, fmt.Errorf("%w: %v", objectstore.ErrCorrupt, err)
	}
	if ns := int64(binary.BigEndian.Uint64(b[16:24])); ns != 0 {
		h.retention = objectstore.Retention{Mode: mode, Until: time.Unix(0, ns).UTC()}
	}
	h.sum = binary.BigEndian.Uint32(b[32:36])
	return h, nil
}

// castagnoli is the CRC-32C table; crc32 uses the CPU's instruction for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the object checksum stored in the header.
func checksum(data []byte) uint32 { return crc32.Checksum(data, castagnoli) }
