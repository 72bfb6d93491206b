package repo

import (
	"errors"
	"strings"
	"testing"

	"coffer/cipher"
)

// Block IDs in stored trees and snapshots are cipher.IDs written as hex: a
// bad one is ErrCorrupt at parse time, a missing one where it is needed
// too, and the zero ID is a snapshot's tree ID like any other.
func TestParseBlockIDs(t *testing.T) {
	hexA := strings.Repeat("a1", cipher.IDSize)
	zero := strings.Repeat("00", cipher.IDSize)
	snapshots := []struct {
		json string
		ok   bool
	}{
		{`{"tree":"` + hexA + `"}`, true},
		{`{"tree":"` + strings.ToUpper(hexA) + `"}`, true},
		{`{"tree":"` + zero + `"}`, true},
		{`{"tree":"` + hexA + `","links":"` + hexA + `"}`, true},
		{`{}`, false},
		{`{"tree":null}`, false},
		{`{"tree":""}`, false},
		{`{"tree":"zz"}`, false},
		{`{"tree":"` + hexA[:62] + `"}`, false},
		{`{"tree":"` + hexA + `","links":"00"}`, false},
		{`{"tree":"` + hexA + `","links":""}`, false},
	}
	for _, c := range snapshots {
		s, err := parseSnapshot([]byte(c.json))
		switch {
		case c.ok && err != nil:
			t.Errorf("parseSnapshot(%s): %v", c.json, err)
		case c.ok && s.Tree.String() != strings.ToLower(c.json[9:9+64]):
			t.Errorf("parseSnapshot(%s): tree %s", c.json, s.Tree)
		case !c.ok && !errors.Is(err, ErrCorrupt):
			t.Errorf("parseSnapshot(%s) = %v, want ErrCorrupt", c.json, err)
		}
	}

	node := func(fields string) string { return `{"nodes":[{"name":"x",` + fields + `}]}` }
	trees := []struct {
		json string
		ok   bool
	}{
		{node(`"type":"dir","subtree":"` + hexA + `"`), true},
		{node(`"type":"file","blocks":[{"id":"` + hexA + `","len":0}]`), true},
		{node(`"type":"dir"`), false},
		{node(`"type":"dir","subtree":null`), false},
		{node(`"type":"dir","subtree":""`), false},
		{node(`"type":"dir","subtree":"zz"`), false},
		{node(`"type":"dir","subtree":"` + zero + `"`), false}, // would not survive omitzero
		{node(`"type":"file","subtree":"zz"`), false},
		{node(`"type":"file","blocks":[{"id":"zz","len":0}]`), false},
		{node(`"type":"file","blocks":[{"len":0}]`), false},
	}
	for _, c := range trees {
		tr, err := parseTree([]byte(c.json))
		switch {
		case c.ok && err != nil:
			t.Errorf("parseTree(%s): %v", c.json, err)
		case c.ok && tr.Nodes[0].Subtree.IsZero() && tr.Nodes[0].Type == TypeDir:
			t.Errorf("parseTree(%s): no subtree", c.json)
		case !c.ok && !errors.Is(err, ErrCorrupt):
			t.Errorf("parseTree(%s) = %v, want ErrCorrupt", c.json, err)
		}
	}
}
