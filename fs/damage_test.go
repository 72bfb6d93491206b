package fs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"coffer/cipher"
	"coffer/fs"
	"coffer/repo"
)

// TestHeadRefusesDamagedBase: a head is never started on a snapshot whose
// root tree or link table cannot be read (it would look empty and be
// committed so); the error says what is damaged and the way on.
func TestHeadRefusesDamagedBase(t *testing.T) {
	ctx := context.Background()
	r := newTestStore(t).open(t)
	good, err := r.SaveTree(ctx, &repo.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	var absent cipher.ID
	absent[0] = 1 // a block no index knows
	cases := []struct {
		name, what string
		snap       repo.Snapshot
	}{
		{"root tree missing", "root tree", repo.Snapshot{Tree: absent}},
		{"link table missing", "link table", repo.Snapshot{Tree: good, Links: absent}},
	}
	for i, c := range cases {
		s := c.snap
		s.Time = time.Now().Add(time.Duration(i) * time.Hour)
		if err := r.SaveSnapshot(ctx, &s); err != nil {
			t.Fatal(err)
		}
		_, err := fs.NewHead(ctx, r, fs.HeadOptions{})
		if !errors.Is(err, fs.ErrDamagedBase) || !strings.Contains(err.Error(), c.what) ||
			!strings.Contains(err.Error(), "coffer mount --parent") || !strings.Contains(err.Error(), s.ID) {
			t.Errorf("%s: NewHead: %v; want ErrDamagedBase naming the %s, the snapshot and --parent", c.name, err, c.what)
		}
	}
}
