package prune

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"coffer/audit"
	"coffer/check"
	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/memory"
	"coffer/objectstore/storetest"
	"coffer/repo"
)

// world is a repository over a memory store whose clock the test moves,
// the contents every snapshot must read back, and the administrator who
// prunes it.
type world struct {
	t      *testing.T
	ctx    context.Context
	clock  *storetest.Clock
	st     *memory.Store
	secret repo.Secret
	want   map[string]map[string][]byte // snapshot ID → path → contents
	rng    *rand.Rand
}

var testKDF = cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}

const (
	testDelay  = 3 * 24 * time.Hour
	testMargin = 15 * time.Minute
)

// newWorld initialises a repository with a three-day delay and a
// 15-minute margin; retention > 0 locks every object for that long.
func newWorld(t *testing.T, retention time.Duration) *world {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	st := memory.New(clock.Now)
	w := &world{t: t, ctx: ctx, clock: clock, st: st, secret: repo.Secret{Passphrase: []byte("pw"), KDF: testKDF},
		want: map[string]map[string][]byte{}, rng: rand.New(rand.NewPCG(1, 2))}
	var pol repo.Policy
	if retention > 0 {
		pol = repo.PolicyFor(objectstore.Compliance, retention)
	}
	if _, err := repo.Init(ctx, st, w.secret, repo.InitOptions{
		Chunker:   chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Retention: pol,
		Deletion:  repo.NewDeletionSettings(testDelay, testMargin, true),
		Now:       clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) open() *repo.Repository {
	w.t.Helper()
	r, err := repo.Open(w.ctx, w.st, w.secret, repo.Options{Clock: w.clock.Now, PackSize: 128 << 10})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(r.Close)
	return r
}

// daemon is a read-write mount as the audit log and the store see it: it
// writes files (durable in packs, in no snapshot) and commits them.
type daemon struct {
	w     *world
	r     *repo.Repository
	log   *audit.Log
	files map[string][]byte
	refs  map[string][]repo.BlockRef
	// during, if set, runs while a prune waits for its margin, after the
	// daemon's refresh: what the mount writes meanwhile.
	during func()
	// ahead is how far the writer's clock (the snapshot's own time) is
	// ahead of the store's.
	ahead time.Duration
}

// mount opens a session of source on host web1 whose head starts from
// base (nil: an empty tree).
func (w *world) mount(source string, base map[string][]byte, baseID string) *daemon {
	w.t.Helper()
	r := w.open()
	d := &daemon{w: w, r: r, log: r.AuditLog(source, "web1", "test"), files: map[string][]byte{},
		refs: map[string][]repo.BlockRef{}}
	rec := audit.Record{Kind: audit.KindMount, Mode: "read-write"}
	if baseID != "" {
		rec.Snapshots = []string{baseID}
	}
	if _, err := d.log.Append(w.ctx, rec); err != nil {
		w.t.Fatal(err)
	}
	for p, b := range base {
		d.files[p] = b
	}
	d.refresh()
	return d
}

// write stores a file's contents (fsynced: durable in a pack).
func (d *daemon) write(p string, data []byte) {
	d.w.t.Helper()
	ctx := d.w.ctx
	fw := d.r.NewFileWriter()
	if err := fw.WriteAt(ctx, data, 0); err != nil {
		d.w.t.Fatal(err)
	}
	refs, err := fw.Close(ctx)
	if err != nil {
		d.w.t.Fatal(err)
	}
	if err := d.r.Flush(ctx); err != nil {
		d.w.t.Fatal(err)
	}
	d.files[p] = data
	d.refs[p] = refs
}

// refresh is what a running daemon does every refresh interval: read
// the prune plans and move the blocks it relies on out of their packs
// (repo.RefreshPlans, the daemon's side of the protocol).
func (d *daemon) refresh() {
	d.w.t.Helper()
	if _, err := d.r.RefreshPlans(d.w.ctx); err != nil {
		d.w.t.Fatal(err)
	}
}

// commit snapshots the head: every file, in directories by their path.
func (d *daemon) commit() string {
	d.w.t.Helper()
	ctx := d.w.ctx
	mark := d.r.MarkRelied()
	started := d.w.clock.Now()
	for _, p := range slices.Sorted(maps.Keys(d.files)) {
		if _, ok := d.refs[p]; !ok { // from the base: written again, deduplicated
			d.write(p, d.files[p])
		}
	}
	root := d.saveDir("")
	s := &repo.Snapshot{Time: d.w.clock.Now().Add(d.ahead), Host: "web1", Tree: root, Files: uint64(len(d.files)), Started: started}
	if err := d.r.SaveSnapshot(ctx, s); err != nil {
		d.w.t.Fatal(err)
	}
	c := repo.AuditCommit(s, 0, 0)
	c.Started = s.Started
	if _, err := d.log.Append(ctx, audit.Record{Kind: audit.KindCommit, Snapshot: &c}); err != nil {
		d.w.t.Fatal(err)
	}
	want := map[string][]byte{}
	for p, b := range d.files {
		want[p] = b
	}
	d.w.want[s.ID] = want
	d.r.DropRelied(mark)
	return s.ID
}

// saveDir stores the tree of directory dir ("" is the root).
func (d *daemon) saveDir(dir string) cipher.ID {
	d.w.t.Helper()
	names := map[string]bool{}
	for p := range d.files {
		rest, ok := strings.CutPrefix(p, dir)
		if !ok {
			continue
		}
		names[strings.SplitN(rest, "/", 2)[0]] = true
	}
	var nodes []repo.Node
	for n := range names {
		full := dir + n
		if data, ok := d.files[full]; ok {
			nodes = append(nodes, repo.Node{Name: n, Type: repo.TypeFile, Mode: 0o644, Size: uint64(len(data)), Blocks: d.refs[full]})
			continue
		}
		nodes = append(nodes, repo.Node{Name: n, Type: repo.TypeDir, Mode: 0o755, Subtree: d.saveDir(full + "/")})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	id, err := d.r.SaveTree(d.w.ctx, &repo.Tree{Nodes: nodes})
	if err != nil {
		d.w.t.Fatal(err)
	}
	return id
}

func (d *daemon) unmount() {
	d.w.t.Helper()
	if _, err := d.log.Append(d.w.ctx, audit.Record{Kind: audit.KindUnmount, Mode: "read-write"}); err != nil {
		d.w.t.Fatal(err)
	}
}

// change rewrites a share of the files and adds and removes a few, as a
// day of a server's life would.
func (w *world) change(files map[string][]byte, day int) map[string][]byte {
	out := map[string][]byte{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		b := files[p]
		switch x := w.rng.IntN(10); {
		case x == 0: // removed
		case x < 3:
			out[p] = w.randBytes()
		default:
			out[p] = b
		}
	}
	for i := range 4 {
		out[fmt.Sprintf("d%d/sub%d/f%d-%d", i%3, day%2, day, i)] = w.randBytes()
	}
	return out
}

func (w *world) randBytes() []byte {
	b := make([]byte, 1000+w.rng.IntN(60_000))
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return b
}

// prune runs prune as the administrator; the daemons given refresh
// while it waits for the margin, as running mounts do.
func (w *world) prune(o Options, running ...*daemon) *Report {
	w.t.Helper()
	rep, err := w.tryPrune(o, running...)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func (w *world) tryPrune(o Options, running ...*daemon) (*Report, error) {
	return w.pruneOn(w.st, o, running...)
}

// pruneOn is tryPrune over st, a decorator of the world's store.
func (w *world) pruneOn(st objectstore.Store, o Options, running ...*daemon) (*Report, error) {
	r, err := repo.Open(w.ctx, st, w.secret, repo.Options{Clock: w.clock.Now, PackSize: 128 << 10,
		RetryWait: time.Millisecond, HoldWriters: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	o.Author = repo.Author{Source: "admin", Host: "admin"}
	o.Log = r.AuditLog("admin", "admin", "test")
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		w.clock.Advance(d)
		for _, dm := range running {
			dm.refresh()
			if dm.during != nil {
				dm.during()
			}
		}
		return nil
	}
	return Run(w.ctx, r, o)
}

// verify opens the repository afresh and checks that every snapshot in
// it reads back exactly what was committed, and that check --read-data
// finds no error.
func (w *world) verify() []string {
	w.t.Helper()
	r := w.open()
	snaps, err := r.Snapshots(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
		want, ok := w.want[s.ID]
		if !ok {
			w.t.Fatalf("snapshot %s was never committed", s.ID)
		}
		got := map[string][]byte{}
		w.readTree(r, s.Tree, "", got)
		if len(got) != len(want) {
			w.t.Fatalf("snapshot %s: %d files, want %d", s.ID, len(got), len(want))
		}
		for p, b := range want {
			if !bytes.Equal(got[p], b) {
				w.t.Fatalf("snapshot %s: %s differs (%d bytes, want %d)", s.ID, p, len(got[p]), len(b))
			}
		}
	}
	rep, err := check.Run(w.ctx, r, check.Options{ReadData: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if !rep.OK() {
		var b bytes.Buffer
		rep.WriteText(&b)
		w.t.Fatalf("check after prune:\n%s", b.String())
	}
	slices.Sort(ids)
	return ids
}

func (w *world) readTree(r *repo.Repository, id cipher.ID, dir string, out map[string][]byte) {
	w.t.Helper()
	t, err := r.LoadTree(w.ctx, id)
	if err != nil {
		w.t.Fatalf("tree %s: %v", dir, err)
	}
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		if n.Type == repo.TypeDir {
			w.readTree(r, n.Subtree, p+"/", out)
			continue
		}
		var data []byte
		for _, b := range n.Blocks {
			plain, err := r.ReadBlock(w.ctx, repo.DataBlock, b.ID)
			if err != nil {
				w.t.Fatalf("%s: %v", p, err)
			}
			data = append(data, plain...)
		}
		out[strings.TrimPrefix(p, "/")] = data
	}
}

// request files a deletion request for snapshots as the server would.
func (w *world) request(ids ...string) *repo.DeletionRequest {
	w.t.Helper()
	req, err := w.open().RequestDeletion(w.ctx, repo.Author{Source: "src1", Host: "web1"}, ids, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	return req
}

// bytesIn is the bytes the store holds under prefix, every version.
func (w *world) bytesIn(prefix string) int64 {
	var n int64
	err := w.st.ListVersions(w.ctx, prefix, func(v objectstore.Version) error {
		n += v.Size
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) checkReport() *check.Report {
	w.t.Helper()
	rep, err := check.Run(w.ctx, w.open(), check.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func auditUnmount(note string) audit.Record {
	return audit.Record{Kind: audit.KindUnmount, Mode: "read-write", Note: note}
}

// packsOf names the packs the indexes locate block id in.
func (w *world) packsOf(id cipher.ID) []string {
	w.t.Helper()
	idx, err := w.open().IndexObjects(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, o := range idx {
		for _, l := range o.Entries {
			if l.Block == id {
				out = append(out, l.Pack.Key())
			}
		}
	}
	return out
}

// gone reports whether the store holds none of keys.
func (w *world) gone(keys []string) bool {
	for _, k := range keys {
		if _, err := w.st.Head(w.ctx, k); err == nil {
			return false
		}
	}
	return len(keys) > 0
}
