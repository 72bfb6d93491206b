package check

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"coffer/audit"
	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/faulty"
	"coffer/objectstore/memory"
	"coffer/repo"
)

var testSecret = repo.Secret{Passphrase: []byte("pw"), KDF: cipher.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}}

// fixture is a repository in a memory store with two snapshots of a
// small tree (a file in the root, one in a subdirectory), sharing blocks,
// and an audit log naming them.
type fixture struct {
	st    *memory.Store
	files map[string][]repo.BlockRef // path -> blocks, of the second snapshot
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st := memory.New(time.Now)
	_, err := repo.Init(ctx, st, testSecret, repo.InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10}, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, files: map[string][]repo.BlockRef{}}
	r := f.open(t)
	for i := range 2 {
		top := writeFile(t, r, uint64(1), 300<<10)    // the same in both
		sub := writeFile(t, r, uint64(10+i), 200<<10) // changes
		subID, err := r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{fileNode("b", sub)}})
		if err != nil {
			t.Fatal(err)
		}
		root, err := r.SaveTree(ctx, &repo.Tree{Nodes: []repo.Node{
			fileNode("a", top), {Name: "d", Type: repo.TypeDir, Mode: 0o755, Subtree: subID},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Now(), Host: "h", Tree: root}); err != nil {
			t.Fatal(err)
		}
		f.files["/a"], f.files["/d/b"] = top, sub
	}
	// The log starts with a genesis record naming both snapshots.
	if _, err := r.AuditLog("src", "h", "test").Append(ctx, audit.Record{Kind: audit.KindMount}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	return f
}

func fileNode(name string, refs []repo.BlockRef) repo.Node {
	var size uint64
	for _, b := range refs {
		size += uint64(b.Len)
	}
	return repo.Node{Name: name, Type: repo.TypeFile, Mode: 0o644, Size: size, Blocks: refs}
}

func writeFile(t *testing.T, r *repo.Repository, seed uint64, n int) []repo.BlockRef {
	t.Helper()
	ctx := context.Background()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	w := r.NewFileWriter()
	if err := w.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	refs, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return refs
}

func (f *fixture) open(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), f.st, testSecret, repo.Options{PackSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// check opens the repository afresh and checks it.
func (f *fixture) check(t *testing.T, o Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), f.open(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// packOf is the key of the pack holding block id.
func (f *fixture) packOf(t *testing.T, id cipher.ID) string {
	t.Helper()
	return f.location(t, id).Pack.Key()
}

// snapshots opens the repository and lists its snapshots.
func (f *fixture) snapshots(t *testing.T) (*repo.Repository, []*repo.Snapshot) {
	t.Helper()
	r := f.open(t)
	snaps, err := r.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r, snaps
}

// location is where the index puts block id.
func (f *fixture) location(t *testing.T, id cipher.ID) repo.BlockLocation {
	t.Helper()
	for _, l := range f.open(t).Locations() {
		if l.Block == id {
			return l
		}
	}
	t.Fatalf("block %s has no location", id)
	return repo.BlockLocation{}
}

// rot flips a bit in the middle of block id's stored bytes, in place.
func (f *fixture) rot(t *testing.T, id cipher.ID) repo.BlockLocation {
	t.Helper()
	loc := f.location(t, id)
	data, err := f.st.Get(context.Background(), loc.Pack.Key())
	if err != nil {
		t.Fatal(err)
	}
	data[loc.Off+loc.Len/2] ^= 1
	replaceKey(t, f.st, loc.Pack.Key(), data)
	return loc
}

func keys(t *testing.T, st objectstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), prefix, func(i objectstore.Info) error {
		out = append(out, i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func deleteKey(t *testing.T, st objectstore.Store, key string) {
	t.Helper()
	if err := st.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// replaceKey puts data at key in place of its only version, as bit rot
// or a store bug would, not as an intruder's later version.
func replaceKey(t *testing.T, st objectstore.Store, key string, data []byte) {
	t.Helper()
	deleteKey(t, st, key)
	if _, err := st.Put(context.Background(), key, data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
}

// has reports whether some finding in fs is of kind and its line
// contains every one of words.
func has(fs []Finding, kind string, words ...string) bool {
	for _, f := range fs {
		if f.Kind != kind {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(f.String(), w)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestCleanRepository(t *testing.T) {
	f := newFixture(t)
	rep := f.check(t, Options{ReadData: true})
	if !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("a clean repository: errors %v, warnings %v", rep.Errors, rep.Warnings)
	}
	if rep.Snapshots != 2 || rep.Trees != 4 || rep.Packs == 0 || rep.Blocks == 0 {
		t.Fatalf("counts: %+v", rep)
	}
	if rep.ReadPacks != rep.Packs || rep.ReadBytes != rep.Bytes || rep.ReadBlocks != rep.Blocks {
		t.Fatalf("read-data read %d packs (%d bytes, %d blocks) of %d (%d bytes, %d blocks)",
			rep.ReadPacks, rep.ReadBytes, rep.ReadBlocks, rep.Packs, rep.Bytes, rep.Blocks)
	}
	if rep.AuditRecords < 2 {
		t.Fatalf("audit records: %d", rep.AuditRecords)
	}
}

// TestMissingPack: a pack the index names is gone: the pack is named,
// and so is the file whose blocks it held, in each snapshot.
func TestMissingPack(t *testing.T) {
	f := newFixture(t)
	pack := f.packOf(t, f.files["/d/b"][0].ID)
	deleteKey(t, f.st, pack)
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindMissingPack, pack, "not in the store") {
		t.Errorf("the missing pack is not named: %v", rep.Errors)
	}
	if !has(rep.Errors, KindMissingBlock, "/d/b") {
		t.Errorf("the file that lost blocks is not named: %v", rep.Errors)
	}
	if has(rep.Errors, KindMissingBlock, " /a") {
		t.Errorf("a file whose blocks are all there is named: %v", rep.Errors)
	}
}

// TestCorruptBlock: a block's bytes changed in place: only read-data
// finds it, and names the pack and block.
func TestCorruptBlock(t *testing.T) {
	f := newFixture(t)
	id := f.files["/a"][1].ID
	pack := f.rot(t, id).Pack.Key()
	if rep := f.check(t, Options{}); !rep.OK() {
		t.Fatalf("without read-data nothing reads the block, yet: %v", rep.Errors)
	}
	rep := f.check(t, Options{ReadData: true})
	if !has(rep.Errors, KindBadBlock, id.String(), pack) {
		t.Fatalf("the corrupt block is not named: %v", rep.Errors)
	}
}

// TestUnindexedPack: a pack whose index was never written (the process
// died between the upload and the index) is a warning, not an error, and
// its bytes are counted apart.
func TestUnindexedPack(t *testing.T) {
	f := newFixture(t)
	before := keys(t, f.st, "index/")
	r := f.open(t)
	writeFile(t, r, 99, 100<<10)
	r.Close()
	for _, k := range keys(t, f.st, "index/") {
		if !contains(before, k) {
			deleteKey(t, f.st, k)
		}
	}
	rep := f.check(t, Options{ReadData: true})
	if !rep.OK() {
		t.Fatalf("a leftover pack is not an error: %v", rep.Errors)
	}
	if rep.UnindexedPacks != 1 || !has(rep.Warnings, KindUnindexedPack, "trailer lists") {
		t.Fatalf("unindexed packs %d, warnings %v", rep.UnindexedPacks, rep.Warnings)
	}
}

// TestUnusedPack: a pack no snapshot references is counted as unused.
func TestUnusedPack(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	writeFile(t, r, 98, 100<<10)
	r.Close()
	rep := f.check(t, Options{})
	if !rep.OK() || rep.UnusedPacks != 1 || rep.UnusedBytes == 0 || !has(rep.Warnings, KindUnusedPacks) {
		t.Fatalf("unused %d packs (%d bytes); errors %v, warnings %v", rep.UnusedPacks, rep.UnusedBytes, rep.Errors, rep.Warnings)
	}
}

// TestIndexNamesMissingPack: an index names a pack no snapshot needs
// that is gone: an error still, the index is wrong.
func TestIndexNamesMissingPack(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	refs := writeFile(t, r, 97, 100<<10)
	r.Close()
	pack := f.packOf(t, refs[0].ID)
	deleteKey(t, f.st, pack)
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindMissingPack, pack, "index/") {
		t.Fatalf("the index naming a missing pack is not reported: %v", rep.Errors)
	}
}

// TestMissingTree: a tree block whose pack is gone: the directory of
// every snapshot it was in is named.
func TestMissingTree(t *testing.T) {
	f := newFixture(t)
	_, snaps := f.snapshots(t)
	pack := f.packOf(t, snaps[1].Tree)
	deleteKey(t, f.st, pack)
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindTree, snaps[1].ID, snaps[1].Tree.String()) {
		t.Fatalf("the unreadable root tree is not named: %v", rep.Errors)
	}
}

// TestBrokenAuditChain: an audit record removed from the store breaks
// the chain.
func TestBrokenAuditChain(t *testing.T) {
	f := newFixture(t)
	recs := keys(t, f.st, "audit/")
	if len(recs) < 2 {
		t.Fatalf("audit records: %v", recs)
	}
	deleteKey(t, f.st, recs[0])
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindAudit, "missing") {
		t.Fatalf("the broken chain is not reported: %v", rep.Errors)
	}
	if rep := f.check(t, Options{SkipAudit: true}); !rep.OK() {
		t.Fatalf("SkipAudit still checks the log: %v", rep.Errors)
	}
}

// TestTamperingIsAWarning: a later version and a delete marker on
// coffer's keys are ignored by reads, so they are warnings.
func TestTamperingIsAWarning(t *testing.T) {
	f := newFixture(t)
	snap := keys(t, f.st, "snapshots/")[0]
	f.st.Overwrite(snap, []byte("junk"))
	pack := keys(t, f.st, "data/")[0]
	f.st.Hide(pack)
	rep := f.check(t, Options{ReadData: true})
	if !rep.OK() {
		t.Fatalf("tampering that reads ignore is not an error: %v", rep.Errors)
	}
	if !has(rep.Warnings, KindTamper, snap, "later version") || !has(rep.Warnings, KindTamper, pack, "delete marker") {
		t.Fatalf("tampering not reported: %v", rep.Warnings)
	}
}

// TestDamagedSlot: a key slot that does not parse is an error; the
// repository opened with another.
func TestDamagedSlot(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	id, err := r.AddSlot(context.Background(), repo.Secret{Passphrase: []byte("other"), KDF: testSecret.KDF})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	replaceKey(t, f.st, "keys/"+id, []byte("{not a slot"))
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindKeySlot, "keys/"+id) {
		t.Fatalf("the damaged slot is not reported: %v", rep.Errors)
	}
}

func TestSubset(t *testing.T) {
	for _, bad := range []string{"0/3", "4/3", "1/0", "1/257", "0%", "101%", "x%", "1", ""} {
		if _, err := ParseSubset(bad); err == nil {
			t.Errorf("ParseSubset(%q) accepted", bad)
		}
	}
	var packs []repo.PackInfo
	for i := range 300 {
		var p repo.PackInfo
		p.ID[0] = byte(i)
		packs = append(packs, p)
	}
	seen := map[repo.PackID]int{}
	for n := 1; n <= 7; n++ {
		s, err := ParseSubset(strings.Join([]string{string(rune('0' + n)), "7"}, "/"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.pick(packs) {
			seen[p.ID]++
		}
	}
	if len(seen) != 256 {
		t.Fatalf("groups 1/7 to 7/7 cover %d distinct packs of 256", len(seen))
	}
	for id, n := range seen {
		if n != 300/256+btoi(int(id[0]) < 300%256) {
			t.Fatalf("pack %x picked %d times", id[0], n)
		}
	}
	s, _ := ParseSubset("10%")
	if got := len(s.pick(packs)); got != 30 {
		t.Fatalf("10%% of 300 packs picked %d", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCorruptTree: a tree block whose bytes changed in place is named,
// with the snapshot and directory, without read-data.
func TestCorruptTree(t *testing.T) {
	f := newFixture(t)
	_, snaps := f.snapshots(t)
	root := snaps[1].Tree
	f.rot(t, root)
	rep := f.check(t, Options{})
	if !has(rep.Errors, KindTree, snaps[1].ID+") /:", root.String()) || !has(rep.Errors, KindBadBlock, root.String()) {
		t.Fatalf("the corrupt root tree is not named: %v", rep.Errors)
	}
}

// TestPendingDeletionIsLoud: a snapshot with a pending deletion request
// is a warning naming it and the request; a cancelled one is not.
func TestPendingDeletionIsLoud(t *testing.T) {
	f := newFixture(t)
	r, snaps := f.snapshots(t)
	ctx := context.Background()
	a := repo.Author{Source: "src", Host: "h"}
	req, err := r.RequestDeletion(ctx, a, []string{snaps[0].ID, snaps[1].ID}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CancelDeletion(ctx, a, req, []string{snaps[1].ID}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	rep := f.check(t, Options{})
	if !rep.OK() || !has(rep.Warnings, KindDeletion, snaps[0].ID, req.Key, "due") {
		t.Fatalf("the pending request is not a warning: errors %v, warnings %v", rep.Errors, rep.Warnings)
	}
	if has(rep.Warnings, KindDeletion, snaps[1].ID) {
		t.Fatalf("a cancelled request is warned of: %v", rep.Warnings)
	}
}

// TestSharedTreesWalkedOnce: snapshots that share trees cost one read of
// each distinct tree, not one per snapshot.
func TestSharedTreesWalkedOnce(t *testing.T) {
	f := newFixture(t)
	r, snaps := f.snapshots(t)
	ctx := context.Background()
	for range 3 {
		if err := r.SaveSnapshot(ctx, &repo.Snapshot{Time: time.Now(), Host: "h", Tree: snaps[1].Tree}); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	rep := f.check(t, Options{SkipAudit: true})
	if !rep.OK() || rep.Snapshots != 5 || rep.Trees != 4 {
		t.Fatalf("5 snapshots of 4 distinct trees: walked %d trees for %d snapshots; errors %v", rep.Trees, rep.Snapshots, rep.Errors)
	}
}

// TestRevocationNotHonoured: a revocation that would leave no usable
// slot is recorded, not honoured: a warning, not an error.
func TestRevocationNotHonoured(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	honoured, err := r.RevokeSlot(context.Background(), r.SlotID(), true)
	if err != nil || honoured {
		t.Fatalf("forced revocation of the only slot: honoured %v, %v", honoured, err)
	}
	r.Close()
	rep := f.check(t, Options{})
	if !rep.OK() || !has(rep.Warnings, KindKeySlot, "revocations/") {
		t.Fatalf("errors %v, warnings %v", rep.Errors, rep.Warnings)
	}
}

// TestOutageIsNotDamage: a store that fails during a check (listing,
// reading trees, reading packs, reading the audit log) makes Run fail
// with the store's error; it never reports the objects it could not
// read as damaged.
func TestOutageIsNotDamage(t *testing.T) {
	f := newFixture(t)
	for _, fault := range []faulty.Fault{
		{Ops: []faulty.Op{faulty.ListVersions}, Prefix: "data/"},
		{Ops: []faulty.Op{faulty.GetRange, faulty.GetVersionRange}, Prefix: "data/"},
		{Ops: []faulty.Op{faulty.GetRange, faulty.GetVersionRange}, Prefix: "data/", Skip: 3},
		{Ops: []faulty.Op{faulty.Get, faulty.GetVersion}, Prefix: "audit/"},
		{Ops: []faulty.Op{faulty.ListVersions}, Prefix: "requests/"},
	} {
		fs := faulty.New(f.st)
		r, err := repo.Open(context.Background(), fs, testSecret, repo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rule := fs.Add(fault)
		rep, err := Run(context.Background(), r, Options{ReadData: true})
		r.Close()
		if rule.Hits() == 0 {
			t.Errorf("fault %+v: never hit", fault)
		}
		if !errors.Is(err, objectstore.ErrUnavailable) {
			t.Errorf("fault %+v: Run returned %v, want the store's error", fault, err)
		}
		if rep != nil && len(rep.Errors) > 0 {
			t.Errorf("fault %+v: an outage reported as damage: %v", fault, rep.Errors)
		}
	}
}

// TestPrunedPackIsAWarning: a pack a prune plan removes, gone while an
// index still names it (prune interrupted), is a warning; had a
// snapshot still needed a block only there, that block is an error.
func TestPrunedPackIsAWarning(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	leftover := writeFile(t, r, 96, 100<<10)
	loc := f.location(t, leftover[0].ID)
	needed := f.location(t, f.files["/d/b"][0].ID)
	ctx := context.Background()
	plan := &repo.PrunePlan{Packs: []repo.PackID{loc.Pack, needed.Pack}, Note: "test"}
	if err := r.PutPrunePlan(ctx, repo.Author{Source: "src", Host: "h"}, plan); err != nil {
		t.Fatal(err)
	}
	r.Close()
	deleteKey(t, f.st, loc.Pack.Key())
	rep := f.check(t, Options{})
	if !rep.OK() || !has(rep.Warnings, KindMissingPack, loc.Pack.Key(), plan.Key) {
		t.Fatalf("a pruned pack: errors %v, warnings %v", rep.Errors, rep.Warnings)
	}
	deleteKey(t, f.st, needed.Pack.Key())
	rep = f.check(t, Options{})
	if !has(rep.Errors, KindMissingBlock, "/d/b") {
		t.Fatalf("a pruned pack a snapshot still needs: errors %v", rep.Errors)
	}
}
