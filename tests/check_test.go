package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkReport is the part of `coffer check --json` the tests read.
type checkReport struct {
	Errors []struct {
		Kind, Object, What, Do string
	} `json:"errors"`
	Warnings []struct {
		Kind, Object, What, Do string
	} `json:"warnings"`
	Snapshots  int   `json:"snapshots"`
	Packs      int   `json:"packs"`
	Blocks     int   `json:"blocks"`
	Bytes      int64 `json:"bytes"`
	ReadPacks  int   `json:"read_packs"`
	ReadBlocks int   `json:"read_blocks"`
}

// check runs coffer check with extra flags and --json, and returns the
// report and the exit code.
func (r *repo) check(t *testing.T, extra ...string) (checkReport, int, result) {
	t.Helper()
	res := r.coffer(t, longTimeout, append(append([]string{"check", "--json"}, r.repoArgs()...), extra...)...)
	var rep checkReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("coffer check --json printed no report: %v\n%v", err, res)
	}
	return rep, res.exitCode(), res
}

// TestCheck: a clean repository checks clean, data read included (exit
// 0); a pack removed is named with the file that lost blocks (exit 7),
// and a pack with a flipped bit is found by --read-data alone.
func TestCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		st := storeOf(t, be)
		rng := newRand(t.Name())
		m := r.mount(t, "--checkpoint-every", "0")
		putFile(t, filepath.Join(m.dir, "a/one"), randBytes(rng, 300*kib))
		putFile(t, filepath.Join(m.dir, "b/sub/two"), randBytes(rng, 70*kib))
		m.snapshot(t)
		lost := victim(t, st, filepath.Join(m.dir, "b/lost.bin"), randBytes(rng, 2*mib))
		rotten := victim(t, st, filepath.Join(m.dir, "rotten.bin"), randBytes(rng, 2*mib))
		m.snapshot(t)
		m.umount(t)

		rep, code, res := r.check(t, "--read-data")
		if code != 0 || len(rep.Errors) != 0 {
			t.Fatalf("a clean repository: exit %d, errors %v\n%v", code, rep.Errors, res)
		}
		if rep.Snapshots != 2 || rep.Packs == 0 || rep.ReadPacks != rep.Packs || rep.ReadBlocks != rep.Blocks {
			t.Fatalf("counts: %+v", rep)
		}
		text := r.mustCoffer(t, longTimeout, append([]string{"check"}, r.repoArgs()...)...)
		if !strings.Contains(text.stdout, "no errors found") {
			t.Errorf("coffer check's text output says no verdict:\n%s", text.stdout)
		}

		for _, p := range lost {
			must(t, os.Remove(objectFile(t, be, p)))
		}
		flipByte(t, objectFile(t, be, rotten[0]), 0.3)
		rep, code, res = r.check(t)
		if code != 7 {
			t.Fatalf("a missing pack: exit %d, want 7\n%v", code, res)
		}
		named := func(kind, object, word string) bool {
			for _, e := range rep.Errors {
				if e.Kind == kind && strings.Contains(e.Object, object) && strings.Contains(e.What+e.Object, word) {
					return true
				}
			}
			return false
		}
		if !named("missing-pack", lost[0], "not in the store") || !named("missing-block", "/b/lost.bin", "blocks") {
			t.Errorf("the missing pack and the file it held are not named: %+v", rep.Errors)
		}
		if named("bad-block", rotten[0], "") {
			t.Errorf("without --read-data a pack's contents were read: %+v", rep.Errors)
		}
		rep, code, res = r.check(t, "--read-data-subset", "100%")
		if code != 7 || !named("bad-block", rotten[0], "") {
			t.Errorf("--read-data: exit %d, the rotten pack %s not named: %+v\n%v", code, rotten[0], rep.Errors, res)
		}
		res = r.coffer(t, shortTimeout, append([]string{"check", "--read-data-subset", "0/2"}, r.repoArgs()...)...)
		if res.exitCode() != 2 || !strings.Contains(res.stderr, "coffer: ") {
			t.Errorf("a bad subset: %v, want exit 2", res)
		}
		if be.name == "local" {
			res = r.coffer(t, shortTimeout, "check", "--repo", t.TempDir(), "--key-file", r.keyFile)
			if res.exitCode() != 4 {
				t.Errorf("check of an empty directory: %v, want exit 4", res)
			}
		}
	})
}
