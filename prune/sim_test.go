package prune

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"coffer/repo"
)

// TestDaysOfBackupsAndPrunes simulates three weeks of a server: a backup
// each night of a changing tree, requests for every snapshot older than
// four days, one cancelled, one held and released later, and a prune
// every other day while the next backup is half written (some of it
// deduplicated against blocks only the doomed snapshots held). After each
// prune every remaining snapshot reads back exactly, check --read-data
// finds nothing wrong, no snapshot went before it was due, a cancelled or
// held one never went, and a matured one did.
type snap struct {
	id    string
	files map[string][]byte
	at    time.Time
}

func TestDaysOfBackupsAndPrunes(t *testing.T) {
	w := newWorld(t, 0)
	ctx := w.ctx
	files := map[string][]byte{}
	for i := range 24 {
		files[[]string{"d0/", "d1/", "d2/sub0/"}[i%3]+string(rune('a'+i))] = w.randBytes()
	}
	var snaps []snap
	latest := func() snap { return snaps[len(snaps)-1] }
	requested := map[string]*repo.DeletionRequest{}
	var cancelled, held string
	var hold *repo.Hold
	moved := 0
	admin := w.open()
	me := repo.Author{Source: "src1", Host: "web1"}
	var planned time.Time
	for day := range 21 {
		// The nightly backup.
		var base snap
		if len(snaps) > 0 {
			base = latest()
		}
		d := w.mount("src1", base.files, base.id)
		next := w.change(files, day)
		for _, p := range slices.Sorted(maps.Keys(next)) {
			d.write(p, next[p])
		}
		files = next
		id := d.commit()
		d.unmount()
		snaps = append(snaps, snap{id, next, w.clock.Now()})

		// Requests: every snapshot older than four days ("keep within").
		var ask []string
		for _, s := range snaps {
			if _, ok := requested[s.id]; !ok && w.clock.Now().Sub(s.at) > 4*24*time.Hour {
				ask = append(ask, s.id)
			}
		}
		if len(ask) > 0 {
			req := w.request(ask...)
			for _, id := range ask {
				requested[id] = req
			}
		}
		switch day {
		case 2: // the day-2 snapshot is held before anyone asks
			var err error
			held = snaps[2].id
			if hold, err = admin.HoldSnapshots(ctx, me, []string{held}, "keep"); err != nil {
				t.Fatal(err)
			}
		case 7: // the request for the day-1 snapshot is cancelled
			cancelled = snaps[1].id
			if _, err := admin.CancelDeletion(ctx, me, requested[cancelled], []string{cancelled}); err != nil {
				t.Fatal(err)
			}
		case 14:
			if _, err := admin.ReleaseHold(ctx, me, hold, nil); err != nil {
				t.Fatal(err)
			}
		}

		w.clock.Advance(time.Hour)
		if day%2 == 1 {
			// The next backup is under way during the prune: files
			// written, one of them equal to a file of the oldest
			// snapshot (deduplicated against what prune removes).
			run := w.mount("src2", latest().files, latest().id)
			var oldPacks []string
			if old := doomed(snaps, requested, cancelled, held, w.clock.Now()); old != nil {
				run.write("restored/old", old)
				oldPacks = w.packsOf(run.refs["restored/old"][0].ID)
			}
			run.write("restored/new", w.randBytes())
			n := 0
			run.during = func() { // writes while prune waits (the first three
				// times), one of them of a doomed file again
				if n++; n > 3 {
					return
				}
				run.write(fmt.Sprintf("during/%d", n), w.randBytes())
				if old := doomed(snaps, requested, cancelled, held, planned); old != nil {
					run.write(fmt.Sprintf("during/old-%d", n), old)
				}
			}
			planned = w.clock.Now()
			rep := w.prune(Options{Force: true}, run)
			for _, e := range rep.Executed {
				t.Logf("day %d executed: removed %d packs %d kept %v locked %v", day, len(e.Removed), e.Packs, e.KeptPacks, e.Locked)
			}
			if rep.Plan != nil {
				t.Logf("day %d plan: remove %d packs %d repack %d sessions %+v", day, len(rep.Plan.Remove), len(rep.Plan.Packs), len(rep.Plan.Repack), rep.Sessions)
			}
			if w.gone(oldPacks) {
				moved++ // the backup relied on a pack prune deleted
			}
			id := run.commit()
			run.unmount()
			snaps = append(snaps, snap{id, run.files, w.clock.Now()})
			files = run.files
			present := w.verify()
			for _, s := range snaps {
				req, asked := requested[s.id]
				isThere := slices.Contains(present, s.id)
				switch {
				case s.id == cancelled || (s.id == held && day < 14):
					if !isThere {
						t.Fatalf("day %d: snapshot %s went though cancelled or held", day, s.id)
					}
				case asked && req.Due.After(planned) && !isThere:
					t.Fatalf("day %d: snapshot %s went before it was due (%v)", day, s.id, req.Due)
				case asked && !req.Due.After(planned) && isThere:
					t.Fatalf("day %d: snapshot %s is still there, due %v; prune: %+v", day, s.id, req.Due, rep.Executed)
				}
			}
		}
		w.clock.Advance(23 * time.Hour)
	}
	if moved == 0 {
		t.Fatal("no running backup ever relied on a pack prune deleted: the simulation tests nothing of the protocol")
	}
	// A last prune leaves nothing unused behind.
	w.prune(Options{Force: true})
	w.prune(Options{Force: true})
	w.verify()
	rep := w.checkReport()
	if rep.UnusedPacks != 0 {
		t.Fatalf("after the last prunes %d packs (%d bytes) are unused", rep.UnusedPacks, rep.UnusedBytes)
	}
}

// doomed returns the contents of a file that only snapshots about to be
// pruned hold, if there is one.
func doomed(snaps []snap, requested map[string]*repo.DeletionRequest, cancelled, held string, now time.Time) []byte {
	kept := map[string]bool{}
	var going []snap
	for _, s := range snaps {
		req, ok := requested[s.id]
		if ok && !req.Due.After(now) && s.id != cancelled && s.id != held {
			going = append(going, s)
			continue
		}
		for _, b := range s.files {
			kept[string(b)] = true
		}
	}
	for _, s := range going {
		for _, p := range slices.Sorted(maps.Keys(s.files)) {
			if b := s.files[p]; !kept[string(b)] {
				return b
			}
		}
	}
	return nil
}
