package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/chunker"
	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// damageRepo is a repository over a memory store without retention, so a
// test can replace objects the way a broken disk or an intruder would.
func damageRepo(t *testing.T) (*memory.Store, Secret) {
	t.Helper()
	return memRepo(t, time.Now)
}

// memRepo initialises a repository without retention over a memory store
// whose clock is now, with 64 KiB chunks.
func memRepo(t *testing.T, now func() time.Time) (*memory.Store, Secret) {
	t.Helper()
	st := memory.New(now)
	return st, initTestRepo(t, st, InitOptions{
		Chunker: chunker.Params{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
		Now:     now(),
	})
}

// initTestRepo initialises a repository in st with passphrase "pw" and
// returns its secret.
func initTestRepo(t *testing.T, st objectstore.Store, o InitOptions) Secret {
	t.Helper()
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	if _, err := Init(context.Background(), st, secret, o); err != nil {
		t.Fatal(err)
	}
	return secret
}

func openRepo(t *testing.T, st objectstore.Store, secret Secret) (*Repository, error) {
	t.Helper()
	r, err := Open(context.Background(), st, secret, Options{PackSize: 256 << 10})
	if err == nil {
		t.Cleanup(r.Close)
	}
	return r, err
}

func keysUnder(t *testing.T, st objectstore.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := st.List(context.Background(), prefix, func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func getObject(t *testing.T, st objectstore.Store, key string) []byte {
	t.Helper()
	b, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replace puts data under key in place of what is there.
func replace(t *testing.T, st objectstore.Store, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	if err := st.Delete(ctx, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, key, data, objectstore.Retention{}); err != nil {
		t.Fatal(err)
	}
}

func newKeys(before, after []string) []string {
	old := map[string]bool{}
	for _, k := range before {
		old[k] = true
	}
	var out []string
	for _, k := range after {
		if !old[k] {
			out = append(out, k)
		}
	}
	return out
}

func hasDamage(r *Repository, key string) bool {
	for _, d := range r.Damage() {
		if d.Key == key {
			return true
		}
	}
	return false
}

// TestDamagedIndexIsSkippedAndRebuilt: one corrupt, truncated, swapped or
// planted index object is skipped with a record of it; the blocks a
// skipped index named are found again from the pack trailers and stored
// as a new index, so every file still reads back; the next open needs no
// repair.
func TestDamagedIndexIsSkippedAndRebuilt(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, st objectstore.Store, first, second string) string // returns the damaged key
		rebuilt bool                                                                  // a new index must appear
	}{
		{"corrupt", func(t *testing.T, st objectstore.Store, first, second string) string {
			b := bytes.Clone(getObject(t, st, second))
			b[len(b)/2] ^= 1
			replace(t, st, second, b)
			return second
		}, true},
		{"truncated", func(t *testing.T, st objectstore.Store, first, second string) string {
			replace(t, st, second, getObject(t, st, second)[:30])
			return second
		}, true},
		{"swapped", func(t *testing.T, st objectstore.Store, first, second string) string {
			replace(t, st, second, getObject(t, st, first))
			return second
		}, true},
		{"planted undecryptable", func(t *testing.T, st objectstore.Store, first, second string) string {
			key := indexPrefix + strings.Repeat("0", 32)
			replace(t, st, key, randBytes(5, 500))
			return key
		}, false},
		{"foreign name", func(t *testing.T, st objectstore.Store, first, second string) string {
			key := indexPrefix + "README"
			replace(t, st, key, []byte("not an index"))
			return key
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, secret := damageRepo(t)
			r, err := openRepo(t, st, secret)
			if err != nil {
				t.Fatal(err)
			}
			dataA, dataB := randBytes(11, 700_000), randBytes(12, 900_000)
			a := writeFile(t, r, dataA)
			first := keysUnder(t, st, indexPrefix)
			b := writeFile(t, r, dataB)
			second := newKeys(first, keysUnder(t, st, indexPrefix))
			if len(first) != 1 || len(second) != 1 {
				t.Fatalf("want one index per flush, got %v then %v", first, second)
			}
			bad := c.damage(t, st, first[0], second[0])
			before := keysUnder(t, st, indexPrefix)

			r2, err := openRepo(t, st, secret)
			if err != nil {
				t.Fatalf("open with one damaged index: %v", err)
			}
			if !hasDamage(r2, bad) {
				t.Errorf("damage not recorded for %s: %v", bad, r2.Damage())
			}
			if !bytes.Equal(readAll(t, r2, a), dataA) || !bytes.Equal(readAll(t, r2, b), dataB) {
				t.Fatal("contents differ after repair")
			}
			added := newKeys(before, keysUnder(t, st, indexPrefix))
			if c.rebuilt != (len(added) == 1) {
				t.Fatalf("new index objects after open: %v, want a new one: %v", added, c.rebuilt)
			}
			// The repair is durable: the next open reads the new index
			// and writes nothing more.
			after := keysUnder(t, st, indexPrefix)
			r3, err := openRepo(t, st, secret)
			if err != nil {
				t.Fatal(err)
			}
			if again := newKeys(after, keysUnder(t, st, indexPrefix)); len(again) != 0 {
				t.Fatalf("second open wrote index objects again: %v", again)
			}
			if !bytes.Equal(readAll(t, r3, b), dataB) {
				t.Fatal("contents differ on the second open")
			}
		})
	}
}

// TestRebuildReadsOnlyUnnamedPacks: the repair reads the trailers of the
// packs no readable index names, not every pack.
func TestRebuildReadsOnlyUnnamedPacks(t *testing.T) {
	st, secret := damageRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, r, randBytes(21, 2<<20)) // several packs, one index
	first := keysUnder(t, st, indexPrefix)
	packsBefore := keysUnder(t, st, dataPrefix)
	b := writeFile(t, r, randBytes(22, 300_000))
	second := newKeys(first, keysUnder(t, st, indexPrefix))
	replace(t, st, second[0], []byte("garbage"))
	counting := &rangeCounter{Store: st, reads: map[string]int{}}
	r2, err := openRepo(t, counting, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packsBefore {
		if counting.reads[p] != 0 {
			t.Errorf("pack %s, named by a readable index, was read during the repair", p)
		}
	}
	if len(counting.reads) == 0 {
		t.Fatal("no pack trailer was read")
	}
	readAll(t, r2, b)
}

// rangeCounter counts ranged reads per key.
type rangeCounter struct {
	*memory.Store
	mu    sync.Mutex
	reads map[string]int // guarded by mu
}

func (c *rangeCounter) GetRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	c.mu.Lock()
	c.reads[key]++
	c.mu.Unlock()
	return c.Store.GetRange(ctx, key, off, length)
}

// TestIndexOutageIsNotDamage: a store that fails while the index loads
// makes Open fail; nothing is skipped or rebuilt.
func TestIndexOutageIsNotDamage(t *testing.T) {
	st, secret := damageRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, r, randBytes(31, 100_000))
	before := keysUnder(t, st, indexPrefix)
	_, err = openRepo(t, &failingGets{Store: st, prefix: indexPrefix}, secret)
	if !errors.Is(err, objectstore.ErrUnavailable) {
		t.Fatalf("open while index reads fail: %v, want ErrUnavailable", err)
	}
	if after := keysUnder(t, st, indexPrefix); len(after) != len(before) {
		t.Fatalf("an outage wrote index objects: %v", after)
	}
}

// failingGets fails every Get and GetVersion under prefix as an
// unreachable store does.
type failingGets struct {
	*memory.Store
	prefix string
}

func (f *failingGets) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, f.prefix) {
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrUnavailable)
	}
	return f.Store.Get(ctx, key)
}

func (f *failingGets) GetVersion(ctx context.Context, key, vid string) ([]byte, error) {
	if strings.HasPrefix(key, f.prefix) {
		return nil, fmt.Errorf("get %s: %w", key, objectstore.ErrUnavailable)
	}
	return f.Store.GetVersion(ctx, key, vid)
}

// TestDamagedSnapshotIsSkipped: a corrupt, truncated, swapped or planted
// snapshot object is left out of the listing (and recorded); the others
// list and resolve by full ID.
func TestDamagedSnapshotIsSkipped(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, st objectstore.Store, good, bad string) string
	}{
		{"corrupt", func(t *testing.T, st objectstore.Store, good, bad string) string {
			b := bytes.Clone(getObject(t, st, bad))
			b[len(b)-1] ^= 0x80
			replace(t, st, bad, b)
			return bad
		}},
		{"truncated", func(t *testing.T, st objectstore.Store, good, bad string) string {
			replace(t, st, bad, getObject(t, st, bad)[:10])
			return bad
		}},
		{"swapped", func(t *testing.T, st objectstore.Store, good, bad string) string {
			replace(t, st, bad, getObject(t, st, good))
			return bad
		}},
		{"planted undecryptable", func(t *testing.T, st objectstore.Store, good, bad string) string {
			key := snapshotPrefix + strings.Repeat("0", 32)
			replace(t, st, key, randBytes(6, 300))
			return key
		}},
		{"foreign name", func(t *testing.T, st objectstore.Store, good, bad string) string {
			key := snapshotPrefix + "README"
			replace(t, st, key, []byte("hello"))
			return key
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, secret := damageRepo(t)
			r, err := openRepo(t, st, secret)
			if err != nil {
				t.Fatal(err)
			}
			good, bad := saveTestSnapshot(t, r, time.Now().Add(-time.Hour)), saveTestSnapshot(t, r, time.Now())
			damaged := c.damage(t, st, snapshotPrefix+good.ID, snapshotPrefix+bad.ID)

			r2, err := openRepo(t, st, secret)
			if err != nil {
				t.Fatal(err)
			}
			snaps, err := r2.Snapshots(context.Background())
			if err != nil {
				t.Fatalf("listing with one damaged snapshot: %v", err)
			}
			want := 2
			if damaged == snapshotPrefix+bad.ID {
				want = 1
			}
			if len(snaps) != want || snaps[0].ID != good.ID {
				t.Fatalf("listed %d snapshots, want %d starting with %s", len(snaps), want, good.ID)
			}
			if !hasDamage(r2, damaged) {
				t.Errorf("damage not recorded for %s: %v", damaged, r2.Damage())
			}
			s, err := r2.FindSnapshot(context.Background(), good.ID)
			if err != nil || s.ID != good.ID {
				t.Fatalf("find intact snapshot by full ID: %v", err)
			}
		})
	}
}

func saveTestSnapshot(t *testing.T, r *Repository, at time.Time) *Snapshot {
	t.Helper()
	ctx := context.Background()
	id, err := r.SaveTree(ctx, &Tree{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Time: at, Host: "h", Tree: id}
	if err := r.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDamagedUnusedKeySlot: a key slot that fails the store's checksum,
// or does not parse, is skipped; the slot in use still opens.
func TestDamagedUnusedKeySlot(t *testing.T) {
	for _, how := range []string{"checksum", "truncated"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			r, dir := localRepo(t, "pw")
			other, err := r.AddSlot(ctx, Secret{Passphrase: []byte("other"), KDF: testKDF})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, filepath.FromSlash(keysPrefix+other)+"@obj")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "checksum":
				data[len(data)-3] ^= 1 // the local store's CRC no longer matches
			case "truncated":
				data = append(data[:len(data)-len(data)/2:len(data)-len(data)/2], 'x')
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			r2, err := Open(ctx, r.store, Secret{Passphrase: []byte("pw")}, Options{})
			if err != nil {
				t.Fatalf("open with a damaged unused slot: %v", err)
			}
			r2.Close()
			_, err = Open(ctx, r.store, Secret{Passphrase: []byte("other")}, Options{})
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("the damaged slot's passphrase: %v, want ErrWrongKey", err)
			}
		})
	}
}

// TestSlotOutageIsNotWrongKey: when the store fails to return the slot
// the secret opens, Open reports the store, not a wrong key.
func TestSlotOutageIsNotWrongKey(t *testing.T) {
	st, secret := damageRepo(t)
	r, err := openRepo(t, st, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddSlot(context.Background(), Secret{Passphrase: []byte("other"), KDF: testKDF}); err != nil {
		t.Fatal(err)
	}
	_, err = openRepo(t, &failingGets{Store: st, prefix: keysPrefix + r.SlotID()}, secret)
	if !errors.Is(err, objectstore.ErrUnavailable) || errors.Is(err, ErrWrongKey) {
		t.Fatalf("open while the store fails to return the slot in use: %v, want ErrUnavailable", err)
	}
}
