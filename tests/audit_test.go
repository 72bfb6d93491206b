package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"coffer/objectstore/s3/s3test"
)

// auditRecord is the part of `coffer audit --json` these tests read.
type auditRecord struct {
	Seq      uint64 `json:"seq"`
	Kind     string `json:"kind"`
	Source   string `json:"source"`
	Host     string `json:"host"`
	Mode     string `json:"mode"`
	Prev     string `json:"prev"`
	Repaired bool   `json:"repaired"`
	Snapshot *struct {
		ID      string `json:"id"`
		Files   uint64 `json:"files"`
		Bytes   uint64 `json:"bytes"`
		New     int64  `json:"new_bytes"`
		Objects int64  `json:"objects_written"`
	} `json:"snapshot"`
	Key *struct {
		Slot string `json:"slot"`
		Kind string `json:"kind"`
	} `json:"key"`
	Skipped []struct {
		Seq uint64 `json:"seq"`
	} `json:"skipped"`
}

// auditVerify runs `coffer audit --verify --json`, which must pass, and
// returns the records and what it said on stderr.
func (r *repo) auditVerify(t *testing.T) ([]auditRecord, string) {
	t.Helper()
	args := append([]string{"audit", "--verify", "--json"}, r.repoArgs()...)
	res := r.mustCoffer(t, shortTimeout, args...)
	var recs []auditRecord
	if err := json.Unmarshal([]byte(res.stdout), &recs); err != nil {
		t.Fatalf("coffer audit --json: %v\n%s", err, res)
	}
	return recs, res.stderr
}

func auditKinds(recs []auditRecord) string {
	kinds := make([]string, len(recs))
	for i, rec := range recs {
		kinds[i] = rec.Kind
	}
	return strings.Join(kinds, ",")
}

// TestAuditLog: init, mount, a write, a snapshot and the unmount each
// leave a record that `coffer audit --verify` proves and lists; junk
// planted at the next sequence key is stepped over by the next writer,
// named in its record and by verify, and blocks nothing.
func TestAuditLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		putFile(t, filepath.Join(m.dir, "a", "file.txt"), []byte("audited bytes\n"))
		id := m.snapshot(t)
		m.umount(t)

		recs, _ := r.auditVerify(t)
		// A daemon's first snapshot extends the locks of what it needs,
		// which is a record of its own. A later daemon remembers the
		// dates (<cache-dir>/retain) but still extends what was written
		// since (the snapshot, audit records, the new pack and index).
		if got := auditKinds(recs); got != "init,mount,commit,retention,unmount" {
			t.Fatalf("records %s, want init,mount,commit,retention,unmount", got)
		}
		c := recs[2].Snapshot
		if c == nil || c.ID != id || c.Files != 1 || c.Bytes != 14 || c.Objects < 2 || c.New <= 14 {
			t.Fatalf("commit record %+v, want snapshot %s of 1 file, 14 bytes, its pack and index", c, id)
		}
		for i, rec := range recs {
			if rec.Seq != uint64(i+1) || rec.Source == "" || rec.Source != recs[0].Source || rec.Host == "" {
				t.Fatalf("record %d: %+v (want sequence %d, the same source as init's)", i, rec, i+1)
			}
			if (i == 0) != (rec.Prev == "") {
				t.Fatalf("record %d links to %q", i, rec.Prev)
			}
		}
		if recs[1].Mode != "read-write" {
			t.Fatalf("mount record mode %q", recs[1].Mode)
		}
		since := r.mustCoffer(t, shortTimeout, append([]string{"audit", "--since", "2999-01-01"}, r.repoArgs()...)...)
		if strings.Count(since.stdout, "\n") != 1 {
			t.Fatalf("--since in the future listed records:\n%s", since.stdout)
		}

		// An intruder plants junk where the next record goes.
		st := storeOf(t, be)
		junk := fmt.Sprintf("audit/%020d", len(recs)+1)
		plant(t, st, junk, []byte("not a record"))
		if _, stderr := r.auditVerify(t); !strings.Contains(stderr, junk) {
			t.Fatalf("audit --verify did not name the planted %s:\n%s", junk, stderr)
		}

		m = r.mount(t)
		putFile(t, filepath.Join(m.dir, "b.txt"), []byte("more\n"))
		m.umount(t)
		recs, stderr := r.auditVerify(t)
		if got := auditKinds(recs); got != "init,mount,commit,retention,unmount,mount,commit,retention,unmount" {
			t.Fatalf("records after the planted junk: %s", got)
		}
		mnt := recs[5]
		if mnt.Seq != uint64(len(recs[:5])+2) || len(mnt.Skipped) != 1 || mnt.Skipped[0].Seq != uint64(len(recs[:5])+1) {
			t.Fatalf("the record after the junk = %+v, want it to step over %s", mnt, junk)
		}
		if !strings.Contains(stderr, junk) || !strings.Contains(stderr, "stepped over") {
			t.Fatalf("audit --verify did not name the junk it stepped over:\n%s", stderr)
		}
		table := r.mustCoffer(t, shortTimeout, append([]string{"audit"}, r.repoArgs()...)...)
		if !strings.Contains(table.stdout, id) || !strings.Contains(table.stdout, "skipped junk at "+junk) {
			t.Fatalf("coffer audit lists:\n%s", table.stdout)
		}

		// Key changes are recorded too.
		key2 := filepath.Join(r.scratch, "key2")
		r.mustCoffer(t, shortTimeout, "key", "generate", key2)
		r.mustCoffer(t, longTimeout, append([]string{"key", "add", "--new-key-file", key2}, r.repoArgs()...)...)
		recs, _ = r.auditVerify(t)
		if last := recs[len(recs)-1]; last.Kind != "key-add" || last.Key == nil || last.Key.Kind != "keyfile" {
			t.Fatalf("the last record after key add = %+v", last)
		}

		// On S3 the same credentials can hide a locked record behind a
		// delete marker and put a new version over one: the listing still
		// shows every record as coffer wrote it (their first versions),
		// and verify passes, naming what was added.
		if be.name != "s3" {
			return
		}
		hidden, over := fmt.Sprintf("audit/%020d", 2), fmt.Sprintf("audit/%020d", 3)
		in := intruderOf(t, be)
		in.Hide(hidden)
		in.Overwrite(over, []byte("a forged commit record")) // over the commit record of id
		table = r.mustCoffer(t, shortTimeout, append([]string{"audit"}, r.repoArgs()...)...)
		if !strings.Contains(table.stdout, id) || !strings.Contains(table.stderr, hidden+" has a delete marker") ||
			!strings.Contains(table.stderr, over+" has a later version") {
			t.Fatalf("coffer audit after records were hidden and put over:\n%s", table)
		}
		res := r.coffer(t, shortTimeout, append([]string{"audit", "--verify"}, r.repoArgs()...)...)
		if res.exitCode() != 0 || !strings.Contains(res.stderr, hidden+" has a delete marker") ||
			!strings.Contains(res.stderr, over+" has a later version") {
			t.Fatalf("audit --verify with a hidden and a put-over record: %v", res)
		}
	})
}

// intruderOf acts on an S3 backend's bucket as someone holding its
// credentials, outside coffer's rules.
func intruderOf(t *testing.T, be *backend) *s3test.Intruder {
	t.Helper()
	env := envOf(be)
	bucket, prefix := bucketOf(t, be)
	srv := &s3test.Server{Endpoint: env["AWS_ENDPOINT_URL_S3"], AccessKey: env["AWS_ACCESS_KEY_ID"],
		SecretKey: env["AWS_SECRET_ACCESS_KEY"], Region: env["AWS_REGION"]}
	return srv.Intruder(t, bucket, prefix+"/")
}

// newUnlockedRepo is newRepo with --retention-days 0, so a test can
// remove objects as a crash would have left them unwritten.
func newUnlockedRepo(t *testing.T, be *backend) *repo {
	t.Helper()
	return newRepo(t, be, "--retention-days", "0")
}

// TestAuditRepairsACommitRecordACrashLeftOut: a snapshot whose commit
// record was never written (the daemon died between the two) fails
// verify, naming the snapshot; the next read-write mount writes the
// record, marked repaired, and verify passes.
func TestAuditRepairsACommitRecordACrashLeftOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newUnlockedRepo(t, be)
		m := r.mount(t)
		putFile(t, filepath.Join(m.dir, "f"), []byte("x"))
		id := m.snapshot(t)
		m.umount(t)
		// As if the daemon had died right after the snapshot object: its
		// commit record and the unmount record never written.
		st := storeOf(t, be)
		must(t, st.Delete(context.Background(), fmt.Sprintf("audit/%020d", 4)))
		must(t, st.Delete(context.Background(), fmt.Sprintf("audit/%020d", 3)))
		res := r.coffer(t, shortTimeout, append([]string{"audit", "--verify"}, r.repoArgs()...)...)
		if res.exitCode() == 0 || !strings.Contains(res.stderr, "snapshot "+id+" has no commit record") {
			t.Fatalf("audit --verify with a commit record missing: %v", res)
		}
		m = r.mount(t)
		m.umount(t)
		recs, _ := r.auditVerify(t)
		if got := auditKinds(recs); got != "init,mount,mount,commit,unmount" {
			t.Fatalf("records after the repair: %s", got)
		}
		if c := recs[3]; c.Snapshot == nil || c.Snapshot.ID != id || !c.Repaired {
			t.Fatalf("repaired record = %+v", c)
		}
	})
}

// TestAuditGenesis: a repository whose snapshots predate the log (here:
// its records removed, as if made by a coffer without one) gets a
// genesis record naming them at its next mount, and then verifies.
func TestAuditGenesis(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newUnlockedRepo(t, be)
		m := r.mount(t)
		putFile(t, filepath.Join(m.dir, "f"), []byte("x"))
		id := m.snapshot(t)
		m.umount(t)
		st := storeOf(t, be)
		for _, k := range listKeys(t, st, "audit/") {
			must(t, st.Delete(context.Background(), k))
		}
		m = r.mount(t, "--snapshot", "latest") // a read-only mount writes records too
		m.umount(t)
		recs, _ := r.auditVerify(t)
		if got := auditKinds(recs); got != "genesis,mount,unmount" || recs[1].Mode != "read-only" {
			t.Fatalf("records: %s (%+v)", got, recs)
		}
		res := r.mustCoffer(t, shortTimeout, append([]string{"audit", "--json"}, r.repoArgs()...)...)
		if !strings.Contains(res.stdout, `"snapshots": [`) || !strings.Contains(res.stdout, id) {
			t.Fatalf("the genesis record does not name snapshot %s:\n%s", id, res.stdout)
		}
	})
}
