package repo

import (
	"encoding/hex"
	"strings"

	"coffer/cipher"
)

// FormatVersion is the repository format this code reads and writes.
const FormatVersion = 1

// Object key prefixes in the store. They are part of the format.
const (
	configKey      = "config"
	keysPrefix     = "keys/"
	dataPrefix     = "data/"
	indexPrefix    = "index/"
	snapshotPrefix = "snapshots/"
)

// BlockType says what a block holds; it is bound into the block's
// associated data so a tree can never be served as file content.
type BlockType uint8

// Block types.
const (
	DataBlock BlockType = 1
	TreeBlock BlockType = 2
)

// PackID names a pack object: 16 random bytes.
type PackID [16]byte

func (p PackID) String() string { return hex.EncodeToString(p[:]) }

// key is the pack's object key, fanned out over 256 directories so a local
// store never holds one huge directory.
func (p PackID) key() string {
	s := p.String()
	return dataPrefix + s[:2] + "/" + s
}

func parseHexName(prefix, key string, n int) ([]byte, bool) {
	name := strings.TrimPrefix(key, prefix)
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	b, err := hex.DecodeString(name)
	if err != nil || len(b) != n {
		return nil, false
	}
	return b, true
}

// blockAD is the associated data sealed with every block: the format
// version, the repository ID, the block type and the block's identity.
// A block moved to another identity, type or repository fails to open.
func blockAD(repoID []byte, t BlockType, id cipher.ID) []byte {
	ad := make([]byte, 0, 16+1+len(repoID)+1+len(id))
	ad = append(ad, "coffer-block"...)
	ad = append(ad, FormatVersion)
	ad = append(ad, repoID...)
	ad = append(ad, byte(t))
	ad = append(ad, id[:]...)
	return ad
}

// objectAD is the associated data for a whole metadata object (index,
// snapshot, pack trailer): its kind and its object key, so objects cannot
// be swapped for one another.
func objectAD(repoID []byte, kind string, key string) []byte {
	ad := make([]byte, 0, 32+len(repoID)+len(key))
	ad = append(ad, "coffer-object"...)
	ad = append(ad, FormatVersion)
	ad = append(ad, repoID...)
	ad = append(ad, kind...)
	ad = append(ad, 0)
	ad = append(ad, key...)
	return ad
}
