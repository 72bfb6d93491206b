package prune

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"coffer/objectstore/faulty"
)

// crashWorld is a repository of five snapshots, the three oldest due.
func crashWorld(t *testing.T) (*world, []string) {
	w := newWorld(t, 0)
	ids := w.history(5)
	w.request(ids[0], ids[1], ids[2])
	w.clock.Advance(testDelay)
	return w, ids
}

// TestKilledAnywhereRerunCompletes stops prune at each of its writes and
// deletions in turn (the store then refuses everything, as if the
// process was killed; half of the stops after the store did the work and
// the answer was lost). After each stop every remaining snapshot reads
// back and check finds no error; running prune again removes what was
// due and leaves no unused pack.
func TestKilledAnywhereRerunCompletes(t *testing.T) {
	w, _ := crashWorld(t)
	count := faulty.New(w.st)
	w.clock.Advance(0)
	if _, err := w.pruneOn(count, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	total := count.Calls(faulty.Put) + count.Calls(faulty.DeleteVersion)
	if total < 10 {
		t.Fatalf("a whole prune made %d writes and deletions: the scenario prunes too little", total)
	}
	for n := range total {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			w, ids := crashWorld(t)
			f := faulty.New(w.st)
			f.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put, faulty.DeleteVersion}, Skip: n, Applied: n%2 == 1, Times: 1})
			f.Add(faulty.Fault{Ops: []faulty.Op{faulty.Put, faulty.DeleteVersion}, Skip: n + 1})
			if _, err := w.pruneOn(f, Options{Force: true}); err == nil && f.Calls(faulty.Put)+f.Calls(faulty.DeleteVersion) > n {
				t.Logf("stop %d: prune reported no error (the stop hit an audit record, which only warns)", n)
			}
			w.verify()
			w.clock.Advance(time.Minute)
			w.prune(Options{Force: true})
			w.prune(Options{Force: true})
			present := w.verify()
			for _, id := range ids[:3] {
				if slices.Contains(present, id) {
					t.Fatalf("stop %d: snapshot %s still there after the re-runs", n, id)
				}
			}
			if rep := w.checkReport(); rep.UnusedPacks != 0 || rep.UnindexedPacks != 0 {
				t.Fatalf("stop %d: %d unused and %d unindexed packs left", n, rep.UnusedPacks, rep.UnindexedPacks)
			}
		})
	}
}
