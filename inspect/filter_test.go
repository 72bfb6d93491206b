package inspect

import (
	"strings"
	"testing"
	"time"

	"coffer/repo"
)

// TestFilter: tags within one entry all match, entries and hosts any;
// latest keeps the newest of what matched; names are those of the whole
// list, whatever is left out.
func TestFilter(t *testing.T) {
	var all []*repo.Snapshot
	for i, s := range []struct {
		host string
		tags []string
	}{{"a", nil}, {"a", []string{"x"}}, {"b", []string{"x", "y"}}, {"b", []string{"y"}}, {"a", []string{"x", "y"}}} {
		all = append(all, &repo.Snapshot{ID: strings.Repeat(string(rune('0'+i)), 32), Host: s.host, Tags: s.tags,
			Time: t0.Add(time.Duration(i) * time.Second)})
	}
	names := repo.NameSnapshots(all)
	for _, c := range []struct {
		f    Filter
		want string // indexes into all
	}{
		{Filter{}, "01234"},
		{Filter{Tags: []string{"x"}}, "124"},
		{Filter{Tags: []string{"x,y"}}, "24"},
		{Filter{Tags: []string{" x , y "}}, "24"},
		{Filter{Tags: []string{"x,y", "y"}}, "234"},
		{Filter{Hosts: []string{"b"}}, "23"},
		{Filter{Hosts: []string{"a"}, Tags: []string{"y"}}, "4"},
		{Filter{Latest: 2}, "34"},
		{Filter{Latest: 9}, "01234"},
		{Filter{Hosts: []string{"a"}, Latest: 2}, "14"},
		{Filter{Hosts: []string{"c"}}, ""},
	} {
		snaps, picked := c.f.Apply(all)
		var got strings.Builder
		for i, s := range snaps {
			n := int(s.ID[0] - '0')
			got.WriteByte(s.ID[0])
			if picked[i] != names[n] {
				t.Errorf("%+v: snapshot %d named %s, want %s", c.f, n, picked[i], names[n])
			}
		}
		if got.String() != c.want {
			t.Errorf("%+v picks %q, want %q", c.f, got.String(), c.want)
		}
	}
}
