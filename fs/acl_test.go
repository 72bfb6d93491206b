package fs

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// Shorthands for test ACLs.
func uo(p uint16) aclEntry            { return aclEntry{tagUserObj, p, aclNoID} }
func us(id uint32, p uint16) aclEntry { return aclEntry{tagUser, p, id} }
func gp(p uint16) aclEntry            { return aclEntry{tagGroupObj, p, aclNoID} }
func gr(id uint32, p uint16) aclEntry { return aclEntry{tagGroup, p, id} }
func mk(p uint16) aclEntry            { return aclEntry{tagMask, p, aclNoID} }
func ot(p uint16) aclEntry            { return aclEntry{tagOther, p, aclNoID} }

// TestACLFormat: Linux's bytes for `setfacl -m u:1000:rwx` on a 0640
// file parse to the entries and encode back to the same bytes.
func TestACLFormat(t *testing.T) {
	raw := []byte{
		2, 0, 0, 0,
		0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, // user::rw-
		0x02, 0, 7, 0, 0xe8, 0x03, 0, 0, // user:1000:rwx
		0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, // group::r--
		0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, // mask::rwx
		0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, // other::---
	}
	a, err := parseACL(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := acl{uo(6), us(1000, 7), gp(4), mk(7), ot(0)}
	if !slices.Equal(a, want) {
		t.Fatalf("parsed %v, want %v", a, want)
	}
	if !bytes.Equal(a.encode(), raw) {
		t.Errorf("encode = %x, want %x", a.encode(), raw)
	}
	if a.minimal() {
		t.Errorf("an ACL with a named user is not minimal")
	}
	if !(acl{uo(6), gp(4), ot(4)}).minimal() {
		t.Errorf("owner, group and other alone are minimal")
	}
}

func TestACLInvalid(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":        nil,
		"ragged":       append(acl{uo(6), gp(4), ot(4)}.encode(), 1),
		"version 1":    {1, 0, 0, 0},
		"no entries":   {2, 0, 0, 0},
		"no other":     acl{uo(6), gp(4)}.encode(),
		"no mask":      acl{uo(6), us(5, 7), gp(4), ot(0)}.encode(),
		"two owners":   acl{uo(6), uo(6), gp(4), ot(0)}.encode(),
		"out of order": acl{gp(4), uo(6), ot(0)}.encode(),
		"ids unsorted": acl{uo(6), us(9, 7), us(5, 7), gp(4), mk(7), ot(0)}.encode(),
		"same id":      acl{uo(6), gr(5, 7), gr(5, 7), gp(4), mk(7), ot(0)}.encode(),
		"bad perm":     acl{uo(8), gp(4), ot(0)}.encode(),
		"bad tag":      acl{uo(6), gp(4), {0x40, 0, 0}, ot(0)}.encode(),
	} {
		if _, err := parseACL(b); !errors.Is(err, errBadACL) {
			t.Errorf("%s: err = %v, want errBadACL", name, err)
		}
	}
}

// TestACLMode checks the mode an ACL gives, what chmod makes of an ACL,
// and what a default ACL makes of a new entry, against Linux's rules.
func TestACLMode(t *testing.T) {
	ext := acl{uo(6), us(1000, 7), gp(4), mk(5), ot(1)}
	if got := ext.applyTo(04000 | 0777); got != 04000|0651 {
		t.Errorf("extended ACL on 04777: mode %04o, want 04651 (group bits from the mask)", got)
	}
	if got := (acl{uo(7), gp(5), ot(4)}).applyTo(0600); got != 0754 {
		t.Errorf("minimal ACL on 0600: mode %04o, want 0754", got)
	}

	if got, want := ext.chmod(0640), (acl{uo(6), us(1000, 7), gp(4), mk(4), ot(0)}); !slices.Equal(got, want) {
		t.Errorf("chmod 0640 with a mask: %v, want %v", got, want)
	}
	if got, want := (acl{uo(6), gp(4), ot(4)}).chmod(0750), (acl{uo(7), gp(5), ot(0)}); !slices.Equal(got, want) {
		t.Errorf("chmod 0750 without a mask: %v, want %v", got, want)
	}
	if ext[3].perm != 5 {
		t.Errorf("chmod changed its receiver")
	}

	def := acl{uo(7), us(1000, 7), gp(7), mk(7), ot(5)}
	a, mode := def.inherit(0644)
	if want := (acl{uo(6), us(1000, 7), gp(7), mk(4), ot(4)}); !slices.Equal(a, want) || mode != 0644 {
		t.Errorf("inherit 0644: %v %04o, want %v 0644", a, mode, want)
	}
	a, mode = (acl{uo(7), gp(5), ot(0)}).inherit(0777)
	if !a.minimal() || mode != 0750 {
		t.Errorf("inherit 0777 from a minimal default: %v %04o, want minimal 0750", a, mode)
	}
}

func FuzzParseACL(f *testing.F) {
	f.Add(acl{uo(6), us(1000, 7), gp(4), mk(7), ot(0)}.encode())
	f.Add(acl{uo(6), gp(4), ot(4)}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseACL(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.encode(), b) {
			t.Fatalf("a valid ACL does not encode back to its bytes")
		}
		if _, err := parseACL(a.chmod(0o7777).encode()); err != nil {
			t.Fatalf("chmod made an invalid ACL: %v", err)
		}
	})
}
