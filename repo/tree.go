package repo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"coffer/cipher"
)

// NodeType is the kind of a tree entry.
type NodeType string

// Node types.
const (
	TypeFile    NodeType = "file"
	TypeDir     NodeType = "dir"
	TypeSymlink NodeType = "symlink"
	TypeFIFO    NodeType = "fifo"
	TypeChar    NodeType = "char"
	TypeBlock   NodeType = "block"
	TypeSocket  NodeType = "socket"
)

// Xattr is one extended attribute.
type Xattr struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// BlockRef is one block of a file's contents and its plaintext length.
type BlockRef struct {
	ID  cipher.ID
	Len uint32
}

type blockRefJSON struct {
	ID  string `json:"id"`
	Len uint32 `json:"len"`
}

// MarshalJSON writes the ID as hex.
func (b BlockRef) MarshalJSON() ([]byte, error) {
	return json.Marshal(blockRefJSON{ID: b.ID.String(), Len: b.Len})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (b *BlockRef) UnmarshalJSON(data []byte) error {
	var j blockRefJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	id, err := cipher.ParseID(j.ID)
	if err != nil {
		return err
	}
	b.ID, b.Len = id, j.Len
	return nil
}

// Node is one entry of a directory: a file, directory, symlink or special
// file, with everything rsync -aHAX and tar preserve.
type Node struct {
	Name   string     `json:"name"`
	Type   NodeType   `json:"type"`
	Mode   uint32     `json:"mode"` // permission, setuid, setgid and sticky bits
	UID    uint32     `json:"uid"`
	GID    uint32     `json:"gid"`
	Size   uint64     `json:"size,omitempty"`
	Mtime  int64      `json:"mtime"` // Unix nanoseconds
	Atime  int64      `json:"atime"`
	Ctime  int64      `json:"ctime"`
	Rdev   uint64     `json:"rdev,omitempty"`
	Target string     `json:"target,omitempty"` // symlink target
	Xattrs []Xattr    `json:"xattrs,omitempty"`
	Blocks []BlockRef `json:"blocks,omitempty"`
	// Subtree is the ID of a directory's tree block, written as hex and
	// left out when zero (as an empty string was), so tree bytes, and so
	// tree IDs, do not depend on the Go type.
	Subtree cipher.ID `json:"subtree,omitzero"`
	// Files and Bytes total a directory's subtree (regular files and
	// their sizes), so a snapshot's totals never need the whole tree.
	Files uint64 `json:"files,omitempty"`
	Bytes uint64 `json:"bytes,omitempty"`
	// Link identifies a hard-linked file: entries with the same non-zero
	// Link are one file; the snapshot's link table holds its link count.
	Link uint64 `json:"link,omitempty"`
	// SrcIno and SrcCtime are the inode number and change time (Unix
	// nanoseconds) of the local file `coffer backup` read a file's
	// contents from. With Size and Mtime they tell the next backup that
	// the file is unchanged and its blocks can be reused unread, as
	// restic does. Only backup sets them (on files); the mount leaves
	// them out, so its trees' bytes are what they were before.
	SrcIno   uint64 `json:"src_ino,omitempty"`
	SrcCtime int64  `json:"src_ctime,omitempty"`
}

// Tree is one directory's listing, sorted by name.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// SaveTree stores t as a tree block and returns its ID. An unchanged tree
// has the same ID and costs nothing.
func (r *Repository) SaveTree(ctx context.Context, t *Tree) (cipher.ID, error) {
	slices.SortFunc(t.Nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.Marshal(t)
	if err != nil {
		return cipher.ID{}, err
	}
	id := r.keys.BlockID(data)
	return id, r.SaveBlock(ctx, TreeBlock, id, data)
}

// LoadTree reads the tree block id.
func (r *Repository) LoadTree(ctx context.Context, id cipher.ID) (*Tree, error) {
	data, err := r.ReadBlock(ctx, TreeBlock, id)
	if err != nil {
		return nil, err
	}
	t, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id, err)
	}
	return t, nil
}

// parseTree decodes and checks a tree block's plaintext: names must be
// usable file names, unique and sorted, types known, and each node carry
// what its type needs.
func parseTree(data []byte) (*Tree, error) {
	var t Tree
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	for i, n := range t.Nodes {
		if n.Name == "" || n.Name == "." || n.Name == ".." || strings.ContainsAny(n.Name, "/\x00") {
			return nil, fmt.Errorf("%w: bad name %q", ErrCorrupt, n.Name)
		}
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("%w: names not sorted and unique at %q", ErrCorrupt, n.Name)
		}
		switch n.Type {
		case TypeDir:
			if n.Subtree.IsZero() {
				return nil, fmt.Errorf("%w: directory %q has no tree ID", ErrCorrupt, n.Name)
			}
		case TypeFile:
			var sum uint64
			for _, b := range n.Blocks {
				sum += uint64(b.Len)
			}
			if sum != n.Size {
				return nil, fmt.Errorf("%w: file %q: blocks hold %d bytes, size says %d", ErrCorrupt, n.Name, sum, n.Size)
			}
		case TypeSymlink, TypeFIFO, TypeChar, TypeBlock, TypeSocket:
		default:
			return nil, fmt.Errorf("%w: %q has unknown type %q", ErrCorrupt, n.Name, n.Type)
		}
	}
	return &t, nil
}

// LinkTable maps each hard-link identity to its link count.
type LinkTable map[uint64]uint32

// SaveLinks stores a link table as a tree-type block and returns its ID;
// an empty table is stored as nothing and has the zero ID.
func (r *Repository) SaveLinks(ctx context.Context, lt LinkTable) (cipher.ID, error) {
	if len(lt) == 0 {
		return cipher.ID{}, nil
	}
	data, err := json.Marshal(struct {
		Links LinkTable `json:"links"`
	}{lt})
	if err != nil {
		return cipher.ID{}, err
	}
	id := r.keys.BlockID(data)
	if err := r.SaveBlock(ctx, TreeBlock, id, data); err != nil {
		return cipher.ID{}, err
	}
	return id, nil
}

// LoadLinks reads a link table; the zero ID is an empty table.
func (r *Repository) LoadLinks(ctx context.Context, id cipher.ID) (LinkTable, error) {
	lt := LinkTable{}
	if id.IsZero() {
		return lt, nil
	}
	data, err := r.ReadBlock(ctx, TreeBlock, id)
	if err != nil {
		return nil, err
	}
	var j struct {
		Links LinkTable `json:"links"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("link table: %w", ErrCorrupt)
	}
	if j.Links != nil {
		lt = j.Links
	}
	return lt, nil
}
