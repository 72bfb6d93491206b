package repo

import (
	"testing"
	"time"
	"unsafe"

	"coffer/cipher"
	"coffer/objectstore"
)

// TestLocationCostsNoMore: the source a location carries fits in padding,
// so the index of a repository without duplicates costs what it did.
func TestLocationCostsNoMore(t *testing.T) {
	if n := unsafe.Sizeof(location{}); n > 28 {
		t.Fatalf("a location takes %d bytes, it took 28 before it knew its source", n)
	}
	x := newIndex()
	srcs := x.register([]string{"index/a"})
	var entries []indexEntry
	for i := range 100 {
		entries = append(entries, indexEntry{ID: cipher.ID{byte(i)}, Loc: location{Pack: PackID{1}, Off: uint32(i)}})
	}
	x.addFrom(entries, srcs[0])
	x.addFrom(entries, srcs[0]) // the same index read twice names nothing new
	if x.more != nil {
		t.Fatalf("blocks with one location use the overflow map: %d entries", len(x.more))
	}
}

// TestLocationsOrder: every location of a block is kept, once per place,
// oldest index first, this process's last; a failed one moves behind.
func TestLocationsOrder(t *testing.T) {
	x := newIndex()
	srcs := x.register([]string{"index/old", "index/mid", "index/new"})
	id := cipher.ID{7}
	at := func(p byte) location { return location{Pack: PackID{p}, Len: 10, Type: DataBlock} }
	x.add([]indexEntry{{id, at(9)}}, false) // this process: tried last
	x.addFrom([]indexEntry{{id, at(3)}}, srcs[2])
	x.addFrom([]indexEntry{{id, at(1)}}, srcs[0])
	x.addFrom([]indexEntry{{id, at(2)}}, srcs[1])
	x.addFrom([]indexEntry{{id, at(3)}}, srcs[0]) // pack 3 is named by the oldest index too
	x.addFrom([]indexEntry{{id, at(1)}}, srcs[2]) // a duplicate, kept once
	packs := func() (out []byte) {
		for _, l := range x.locations(id) {
			out = append(out, l.Pack[0])
		}
		return out
	}
	if got := string(packs()); got != "\x01\x03\x02\x09" {
		t.Fatalf("order %v, want packs 1 3 2 9", []byte(got))
	}
	if l := x.locations(id)[1]; x.sourceName(l.src) != "index/old" {
		t.Fatalf("pack 3's location is attributed to %q, want the oldest index", x.sourceName(l.src))
	}
	x.demote(id, at(1))
	if got := string(packs()); got != "\x03\x02\x09\x01" {
		t.Fatalf("after demoting pack 1: %v, want 3 2 9 1", []byte(got))
	}
	x.demote(id, at(2))
	if got := string(packs()); got != "\x03\x09\x01\x02" {
		t.Fatalf("after demoting pack 2: %v, want 3 9 1 2", []byte(got))
	}
	if !x.has(id) || len(x.locations(cipher.ID{8})) != 0 {
		t.Fatal("has/locations disagree with what was added")
	}
}

// TestOldestIndexFirst: index objects are ranked by the store's upload
// time, and by listing order where it gives none.
func TestOldestIndexFirst(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	got := oldestFirst([]objectstore.Info{
		{Key: "index/a", Modified: t0.Add(2 * time.Hour)},
		{Key: "index/b", Modified: t0},
		{Key: "index/c", Modified: t0.Add(time.Hour)},
		{Key: "index/d", Modified: t0},
	})
	want := []string{"index/b", "index/d", "index/c", "index/a"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	got = oldestFirst([]objectstore.Info{{Key: "index/z"}, {Key: "index/y"}})
	if got[0] != "index/z" || got[1] != "index/y" {
		t.Fatalf("without times: %v, want the listing order", got)
	}
}

// TestHasOutside: a block counts as stored only if some location is in a
// pack not about to go, whichever of its locations that is.
func TestHasOutside(t *testing.T) {
	x := newIndex()
	srcs := x.register([]string{"index/a", "index/b"})
	id := cipher.ID{7}
	at := func(p byte) location { return location{Pack: PackID{p}, Len: 10, Type: DataBlock} }
	x.addFrom([]indexEntry{{id, at(1)}}, srcs[0])
	x.addFrom([]indexEntry{{id, at(2)}}, srcs[1])
	for _, c := range []struct {
		away []PackID
		want bool
	}{
		{[]PackID{{1}}, true},
		{[]PackID{{2}}, true},
		{[]PackID{{1}, {2}}, false},
		{[]PackID{{3}}, true},
	} {
		if got := x.hasOutside(id, packSet(c.away)); got != c.want {
			t.Errorf("away %v: hasOutside = %v, want %v", c.away, got, c.want)
		}
	}
	if x.hasOutside(cipher.ID{8}, packSet([]PackID{{1}})) {
		t.Error("an unknown block counts as stored")
	}
}
