package fs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// POSIX ACLs, kept as ext4 keeps them. The kernel hands an ACL to a FUSE
// filesystem as the extended attribute system.posix_acl_access (or
// _default, a directory's ACL for new entries) in Linux's xattr format,
// and leaves the rest to it:
//
//   - a minimal ACL (owner, owning group, others) is just the mode's
//     permission bits: setting one changes the mode and stores nothing;
//   - setting an extended ACL sets the mode's group bits from its mask
//     and the owner and other bits from their entries;
//   - chmod changes the stored ACL's owner, mask (or owning group, without
//     a mask) and other entries;
//   - removing the ACL leaves the mode as it is.
//
// Default ACLs are stored as they are, on directories only.

// The names under which the kernel passes ACLs.
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// Linux's posix_acl xattr format: a little-endian header holding the
// version, then one 8-byte entry per ACL entry: tag, permissions, id.
const (
	aclVersion    = 2
	aclHeaderSize = 4
	aclEntrySize  = 8
	aclNoID       = 0xffffffff // the id of entries that name no user or group
)

// ACL entry tags.
const (
	tagUserObj  = 0x01
	tagUser     = 0x02
	tagGroupObj = 0x04
	tagGroup    = 0x08
	tagMask     = 0x10
	tagOther    = 0x20
)

// errBadACL says an ACL xattr value is not a valid POSIX ACL.
var errBadACL = errors.New("not a valid POSIX ACL")

type aclEntry struct {
	tag  uint16
	perm uint16 // rwx as 4, 2, 1
	id   uint32
}

// acl is a parsed POSIX ACL, entries in the kernel's canonical order.
type acl []aclEntry

// parseACL reads an ACL in Linux's xattr format and checks it as the
// kernel's posix_acl_valid does: one owner, owning group and other entry,
// named entries in ascending id order without duplicates, and a mask if
// any named entry is present.
func parseACL(b []byte) (acl, error) {
	if len(b) < aclHeaderSize || (len(b)-aclHeaderSize)%aclEntrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", errBadACL, len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != aclVersion {
		return nil, fmt.Errorf("%w: version %d", errBadACL, v)
	}
	a := make(acl, 0, (len(b)-aclHeaderSize)/aclEntrySize)
	for off := aclHeaderSize; off < len(b); off += aclEntrySize {
		a = append(a, aclEntry{
			tag:  binary.LittleEndian.Uint16(b[off:]),
			perm: binary.LittleEndian.Uint16(b[off+2:]),
			id:   binary.LittleEndian.Uint32(b[off+4:]),
		})
	}
	if err := a.valid(); err != nil {
		return nil, err
	}
	return a, nil
}

// valid checks the entries' order and presence.
func (a acl) valid() error {
	var seen uint16
	var lastTag uint16
	var lastID uint32
	for _, e := range a {
		if e.perm&^7 != 0 {
			return fmt.Errorf("%w: permissions %#x", errBadACL, e.perm)
		}
		switch e.tag {
		case tagUserObj, tagGroupObj, tagMask, tagOther:
			if seen&e.tag != 0 {
				return fmt.Errorf("%w: tag %#x twice", errBadACL, e.tag)
			}
		case tagUser, tagGroup:
			if e.tag == lastTag && e.id <= lastID {
				return fmt.Errorf("%w: ids out of order", errBadACL)
			}
		default:
			return fmt.Errorf("%w: tag %#x", errBadACL, e.tag)
		}
		if e.tag < lastTag {
			return fmt.Errorf("%w: entries out of order", errBadACL)
		}
		seen |= e.tag
		lastTag, lastID = e.tag, e.id
	}
	const required = tagUserObj | tagGroupObj | tagOther
	if seen&required != required {
		return fmt.Errorf("%w: owner, group or other entry missing", errBadACL)
	}
	if seen&(tagUser|tagGroup) != 0 && seen&tagMask == 0 {
		return fmt.Errorf("%w: named entries without a mask", errBadACL)
	}
	return nil
}

// encode writes a in Linux's xattr format.
func (a acl) encode() []byte {
	b := make([]byte, aclHeaderSize, aclHeaderSize+aclEntrySize*len(a))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range a {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// minimal reports whether a says no more than permission bits can.
func (a acl) minimal() bool {
	for _, e := range a {
		if e.tag&(tagUser|tagGroup|tagMask) != 0 {
			return false
		}
	}
	return true
}

// applyTo returns mode with its permission bits (0777) replaced by what
// a grants: owner and other from their entries, group from the mask if
// there is one, else from the owning group. Set-ID and sticky bits stay.
func (a acl) applyTo(mode uint32) uint32 {
	var perm, group uint32
	for _, e := range a {
		p := uint32(e.perm & 7)
		switch e.tag {
		case tagUserObj:
			perm |= p << 6
		case tagGroupObj, tagMask: // the mask, if any, comes after the owning group
			group = p
		case tagOther:
			perm |= p
		}
	}
	return mode&^0777 | perm | group<<3
}

// chmod returns a copy of a carrying mode's permission bits: the owner
// and other entries take them, and so does the mask, or the owning group
// if there is no mask. Named entries stay.
func (a acl) chmod(mode uint32) acl {
	return a.withClassPerms(mode, func(_, bits uint16) uint16 { return bits })
}

// inherit returns the access ACL and mode of an entry created with mode
// in a directory whose default ACL is a, as Linux's posix_acl_create
// does: each of the owner, mask (or owning group) and other entries
// keeps only what mode allows, and mode keeps only what they grant.
func (a acl) inherit(mode uint32) (acl, uint32) {
	out := a.withClassPerms(mode, func(perm, bits uint16) uint16 { return perm & bits })
	return out, out.applyTo(mode)
}

// withClassPerms returns a copy of a in which the entries that stand for
// the mode's three classes (owner; mask, or the owning group if there is
// no mask; other) get set(perm, the class's bits of mode). Named entries
// stay.
func (a acl) withClassPerms(mode uint32, set func(perm, bits uint16) uint16) acl {
	out := make(acl, len(a))
	copy(out, a)
	hasMask := false
	for _, e := range out {
		if e.tag == tagMask {
			hasMask = true
		}
	}
	for i := range out {
		e := &out[i]
		switch {
		case e.tag == tagUserObj:
			e.perm = set(e.perm, uint16(mode>>6)&7)
		case e.tag == tagOther:
			e.perm = set(e.perm, uint16(mode)&7)
		case e.tag == tagMask, e.tag == tagGroupObj && !hasMask:
			e.perm = set(e.perm, uint16(mode>>3)&7)
		}
	}
	return out
}
