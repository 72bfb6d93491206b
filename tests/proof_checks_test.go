package tests

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"coffer/doctor"
)

// proofRestores checks, on a machine that kept nothing of the server's
// (a fresh home, so no cache), that coffer lists exactly the server's
// snapshots and that each one, mounted alone, is the tree it was made of;
// extra flags (--as-of) go to both commands.
func proofRestores(t *testing.T, r *repo, snaps []proofSnap, extra ...string) {
	t.Helper()
	fresh := freshMachine(t, r)
	var want, got []string
	for _, s := range snaps {
		want = append(want, s.id)
	}
	res := fresh.mustCoffer(t, shortTimeout, append(append([]string{"snapshots", "--json"}, fresh.repoArgs()...), extra...)...)
	var list []snapInfo
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("coffer snapshots --json: %v\n%s", err, res)
	}
	for _, s := range list {
		got = append(got, s.ID)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("coffer snapshots lists %q, want the server's %q", got, want)
	}
	for i, s := range snaps {
		m := fresh.mount(t, append([]string{"--snapshot", s.id}, extra...)...)
		if len(s.want) < 20 {
			t.Fatalf("snapshot %s: the tree written has only %d entries", s.id, len(s.want))
		}
		compareTrees(t, "snapshot "+s.id, s.want, scanTree(t, filepath.Join(m.dir, "data")), cmpOpts{})
		m.umount(t)
		if i == 0 && t.Failed() {
			t.Logf("snapshot mount log:\n%s", clip(m.log()))
		}
	}
}

// proofHead checks that the server itself still mounts its head, which
// starts as a copy of the latest snapshot, and that a backup run over an
// unchanged tree commits nothing new.
func proofHead(t *testing.T, r *repo, latest proofSnap) {
	t.Helper()
	before := len(r.snapshots(t))
	m := r.mount(t)
	compareTrees(t, "the head after the intruder", latest.want, scanTree(t, filepath.Join(m.dir, "data")), cmpOpts{})
	m.umount(t)
	if after := len(r.snapshots(t)); after != before {
		t.Errorf("an unchanged head committed on unmount: %d snapshots, then %d", before, after)
	}
}

// freshMachine is r as seen from another machine with the key file: same
// repository and key, an empty home (no caches, no local state).
func freshMachine(t *testing.T, r *repo) *repo {
	t.Helper()
	f := *r
	f.home = filepath.Join(t.TempDir(), "home")
	must(t, os.MkdirAll(filepath.Join(f.home, "tmp"), 0o700))
	return &f
}

// proofSnapshotsWarn checks that `coffer snapshots` names the junk
// planted under index/ and snapshots/ and the tampering it ignored.
func proofSnapshotsWarn(t *testing.T, r *repo, planted []string) {
	t.Helper()
	res := r.mustCoffer(t, shortTimeout, append([]string{"snapshots"}, r.repoArgs()...)...)
	for _, k := range planted {
		if !strings.Contains(res.stderr, k) {
			t.Errorf("coffer snapshots does not name the junk planted at %s: %v", k, res)
		}
	}
	if !strings.Contains(res.stderr, "tampering") {
		t.Errorf("coffer snapshots says nothing of the tampering: %v", res)
	}
}

// proofForgedListed checks that a snapshot forged with the key is, without
// --as-of, listed like any other (only its upload time tells it apart),
// and that `coffer snapshots` names the forged revocation it did not
// honour.
func proofForgedListed(t *testing.T, r *repo, fake, revocation string) {
	t.Helper()
	res := r.mustCoffer(t, shortTimeout, append([]string{"snapshots", "--json"}, r.repoArgs()...)...)
	var list []snapInfo
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("coffer snapshots --json: %v\n%s", err, res)
	}
	if !slices.ContainsFunc(list, func(s snapInfo) bool { return s.ID == fake }) {
		t.Errorf("the forged snapshot %s is not listed without --as-of: %v", fake, res)
	}
	if !strings.Contains(res.stderr, revocation) || !strings.Contains(res.stderr, "not honoured") {
		t.Errorf("coffer snapshots does not name the revocation %s it did not honour: %v", revocation, res)
	}
}

// proofDoctor runs `coffer doctor` with the server's credentials and
// checks that it tells the truth about them: the user's cannot delete,
// place a delete marker, bypass governance or change the lock
// configuration; the owner's can, and doctor says so, and names the
// default lock the owner's intruder changed. Every key in tampered must
// be listed as tampering, and every object in forged (packs and indexes
// made with the key) as holding forged copies of blocks.
func proofDoctor(t *testing.T, r *repo, s *proofSite, tampered, forged []string) {
	t.Helper()
	rep, _ := doctorReport(t, r)
	for _, res := range rep.Results {
		t.Logf("doctor: %s: %s (%s) %q", res.Promise, res.Status, res.Detail, res.Items)
	}
	expect(t, rep, doctor.Holds, doctor.PromiseVersioning, doctor.PromiseConditionalPut,
		doctor.PromiseCompliance, doctor.PromiseLockedMeta)
	creds := []string{doctor.PromiseNoDelete, doctor.PromiseNoDeleteMarker, doctor.PromiseNoBypass,
		doctor.PromiseNoVersioning, doctor.PromiseNoLockConfig}
	if s.owner {
		expect(t, rep, doctor.Broken, creds...)
		expect(t, rep, doctor.Warning, doctor.PromiseObjectLock) // the default lock is GOVERNANCE now
	} else {
		expect(t, rep, doctor.Holds, creds...)
		expect(t, rep, doctor.Holds, doctor.PromiseObjectLock)
	}
	found, _ := rep.Find(doctor.PromiseNoTampering)
	listed := strings.Join(found.Items, "\n")
	for _, k := range tampered {
		if !strings.Contains(listed, k) {
			t.Errorf("doctor does not list the tampering on %s: %q", k, found.Items)
		}
	}
	if len(tampered) > 0 && found.Status != doctor.Broken {
		t.Errorf("doctor: %q is %s after the intruder's versions and markers", doctor.PromiseNoTampering, found.Status)
	}
	if len(forged) == 0 {
		expect(t, rep, doctor.Holds, doctor.PromiseNoForgedBlocks)
		return
	}
	expect(t, rep, doctor.Broken, doctor.PromiseNoForgedBlocks)
	found, _ = rep.Find(doctor.PromiseNoForgedBlocks)
	listed = strings.Join(found.Items, "\n")
	for _, k := range forged {
		if !strings.Contains(listed, path.Base(k)) {
			t.Errorf("doctor does not name the forged %s: %q", k, found.Items)
		}
	}
}

// proofAudit checks `coffer audit --verify` after the intruder has
// planted junk at the next audit key (which the restores' mounts stepped
// over): it passes and names the junk.
func proofAudit(t *testing.T, r *repo, junk string) {
	t.Helper()
	res := r.coffer(t, longTimeout, append([]string{"audit", "--verify"}, r.repoArgs()...)...)
	if res.err != nil {
		t.Errorf("coffer audit --verify after the intruder: %v", res)
	}
	if !strings.Contains(res.stderr, junk) {
		t.Errorf("coffer audit --verify does not name the junk planted at %s: %v", junk, res)
	}
}

// proofAuditBroken checks that `coffer audit --verify` fails once the
// intruder has written what the log exposes: a snapshot without its
// commit record, and versions and markers over audit records.
func proofAuditBroken(t *testing.T, r *repo, names ...string) {
	t.Helper()
	res := r.coffer(t, longTimeout, append([]string{"audit", "--verify"}, r.repoArgs()...)...)
	if res.err == nil {
		t.Errorf("coffer audit --verify passes over a forged snapshot and tampered records: %v", res)
	}
	out := res.stdout + res.stderr
	for _, n := range names {
		if !strings.Contains(out, n) {
			t.Errorf("coffer audit --verify does not name %s: %v", n, res)
		}
	}
}
