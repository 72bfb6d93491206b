package inspect

import (
	"context"
	"fmt"
	"math"
	"path"
	"sync"
	"time"

	"coffer/cipher"
	"coffer/repo"
)

// Addition is what one snapshot added to the store: the stored (sealed)
// bytes of the blocks, data and tree, that no older snapshot references.
type Addition struct {
	Bytes  int64
	Blocks int
}

// usage counts distinct blocks over snapshots walked in turn, through
// one repo.Walker: a tree seen before, and so everything beneath it, is
// not read again, so the cost follows the trees that changed.
type usage struct {
	r      *repo.Repository
	w      *repo.Walker
	seen   map[cipher.ID]struct{} // blocks counted so far
	bytes  int64                  // their stored bytes
	blocks int
	// missing counts blocks no index names; problems describes them
	// and the trees that could not be read. Both leave the totals short.
	missing  int
	problems []string
	// visited holds the trees the walk has visited, for readAhead,
	// which runs beside it and must not read them again.
	visited sync.Map
}

func newUsage(r *repo.Repository) *usage {
	u := &usage{r: r, w: r.NewWalker(), seen: make(map[cipher.ID]struct{})}
	u.w.OnError = func(dir string, id cipher.ID, err error) error {
		if !damagedOrMissing(err) {
			return err // the store failed: no figure would be right
		}
		u.problems = append(u.problems, fmt.Sprintf("tree %s (%s) not read: %v", id, dir, err))
		return nil
	}
	return u
}

// count adds block id if it is new.
func (u *usage) count(id cipher.ID, where string) {
	if _, ok := u.seen[id]; ok {
		return
	}
	u.seen[id] = struct{}{}
	n, ok := u.r.StoredSize(id)
	if !ok {
		u.missing++
		u.problems = append(u.problems, fmt.Sprintf("block %s (%s) is in no index", id, where))
		return
	}
	u.bytes += n
	u.blocks++
}

// add walks s, counting the blocks not counted before, and returns what
// it added.
func (u *usage) add(ctx context.Context, s *repo.Snapshot) (Addition, error) {
	bytes, blocks := u.bytes, u.blocks
	if !s.Links.IsZero() {
		u.count(s.Links, "link table of snapshot "+s.ID)
	}
	if !u.w.Seen(s.Tree) {
		defer startReadAhead(ctx, u.r, s.Tree, func(id cipher.ID) bool { _, ok := u.visited.Load(id); return ok })()
	}
	err := u.w.WalkSnapshot(ctx, s, func(_ context.Context, dir string, id cipher.ID, t *repo.Tree) error {
		u.visited.Store(id, true)
		u.count(id, dir)
		for _, n := range t.Nodes {
			for _, b := range n.Blocks {
				u.count(b.ID, path.Join(dir, n.Name))
			}
		}
		return nil
	})
	if err != nil {
		return Addition{}, fmt.Errorf("snapshot %s: %w", s.ID, err)
	}
	return Addition{Bytes: u.bytes - bytes, Blocks: u.blocks - blocks}, nil
}

// AddedBy returns what each snapshot of all (every snapshot listed,
// oldest first) added to the store, by snapshot ID, and one line for each
// problem that left a figure short (a tree unreadable, a block in no
// index). Blocks shared by several snapshots count for the oldest.
func AddedBy(ctx context.Context, r *repo.Repository, all []*repo.Snapshot) (map[string]Addition, []string, error) {
	u := newUsage(r)
	out := make(map[string]Addition, len(all))
	for _, s := range all {
		a, err := u.add(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		out[s.ID] = a
	}
	return out, u.problems, nil
}

// Stats is `coffer stats --json`.
type Stats struct {
	Snapshots int `json:"snapshots"`
	// Files and LogicalBytes total the snapshots' own counts: what
	// restoring each of them would write.
	Files        uint64 `json:"files"`
	LogicalBytes uint64 `json:"logical_bytes"`
	// StoredBytes and Blocks count the distinct blocks the snapshots
	// reference (file data, trees, link tables), at their stored size.
	StoredBytes int64 `json:"stored_bytes"`
	Blocks      int   `json:"blocks"`
	// DedupRatio is LogicalBytes / StoredBytes (0 when nothing is stored).
	DedupRatio float64 `json:"dedup_ratio"`
	// Repository is every block the index names, used by a snapshot or
	// not: the difference from StoredBytes is what a prune could free.
	Repository struct {
		Blocks      int   `json:"blocks"`
		StoredBytes int64 `json:"stored_bytes"`
	} `json:"repository"`
	PerSnapshot []SnapshotStats `json:"per_snapshot"`
	// MissingBlocks and Problems say what left the figures short.
	MissingBlocks int      `json:"missing_blocks"`
	Problems      []string `json:"problems,omitempty"`
}

// SnapshotStats is one snapshot's line of Stats.
type SnapshotStats struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Time         time.Time `json:"time"`
	Host         string    `json:"host"`
	Files        uint64    `json:"files"`
	LogicalBytes uint64    `json:"logical_bytes"`
	AddedBytes   int64     `json:"added_bytes"`  // stored bytes of the blocks no older snapshot references
	AddedBlocks  int       `json:"added_blocks"` // how many blocks those are
}

// Compute totals the snapshots picked (a subset of all, oldest first,
// named by names) against every snapshot of all: what each added is
// counted from the oldest snapshot of the repository on, whatever the
// subset. It reads each distinct tree once (twice for a subset, whose
// distinct blocks are walked apart).
func Compute(ctx context.Context, r *repo.Repository, all, picked []*repo.Snapshot, names []string) (*Stats, error) {
	added, problems, err := AddedBy(ctx, r, all)
	if err != nil {
		return nil, err
	}
	st := &Stats{Snapshots: len(picked), PerSnapshot: []SnapshotStats{}}
	u := newUsage(r)
	for i, s := range picked {
		if _, err := u.add(ctx, s); err != nil {
			return nil, err
		}
		a := added[s.ID]
		st.Files += s.Files
		st.LogicalBytes += s.Size
		st.PerSnapshot = append(st.PerSnapshot, SnapshotStats{ID: s.ID, Name: names[i], Time: s.Time.UTC(),
			Host: s.Host, Files: s.Files, LogicalBytes: s.Size, AddedBytes: a.Bytes, AddedBlocks: a.Blocks})
	}
	st.StoredBytes, st.Blocks, st.MissingBlocks = u.bytes, u.blocks, u.missing
	if st.StoredBytes > 0 {
		st.DedupRatio = math.Round(float64(st.LogicalBytes)/float64(st.StoredBytes)*1000) / 1000
	}
	st.Repository.Blocks, st.Repository.StoredBytes = r.IndexedBytes()
	st.Problems = dedupe(append(problems, u.problems...))
	return st, nil
}

// dedupe drops repeated lines, keeping the first of each.
func dedupe(lines []string) []string {
	seen := make(map[string]bool, len(lines))
	out := lines[:0]
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
