package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// forgetPlan is the part of `coffer forget --json` these tests read.
type forgetPlan struct {
	DryRun    bool `json:"dry_run"`
	Snapshots []struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Action  string   `json:"action"`
		Reasons []string `json:"reasons"`
	} `json:"snapshots"`
	Request *struct {
		Key       string    `json:"key"`
		Uploaded  time.Time `json:"uploaded"`
		Due       time.Time `json:"due"`
		Snapshots []string  `json:"snapshots"`
	} `json:"request"`
}

// pendingRequest is the part of `coffer requests --json` these tests read.
type pendingRequest struct {
	Key       string    `json:"key"`
	Uploaded  time.Time `json:"uploaded"`
	Due       time.Time `json:"due"`
	State     string    `json:"state"`
	Snapshots []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"snapshots"`
}

func (r *repo) forgetJSON(t *testing.T, args ...string) forgetPlan {
	t.Helper()
	res := r.mustCoffer(t, shortTimeout, append(append([]string{"forget", "--json"}, args...), r.repoArgs()...)...)
	var p forgetPlan
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("coffer forget --json: %v\n%s", err, res)
	}
	return p
}

func (r *repo) requests(t *testing.T, args ...string) []pendingRequest {
	t.Helper()
	res := r.mustCoffer(t, shortTimeout, append(append([]string{"requests", "--json"}, args...), r.repoArgs()...)...)
	var out []pendingRequest
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("coffer requests --json: %v\n%s", err, res)
	}
	return out
}

// pendingIDs lists the snapshots of reqs still pending (or held).
func pendingIDs(reqs []pendingRequest) []string {
	var out []string
	for _, q := range reqs {
		for _, s := range q.Snapshots {
			if s.State == "pending" || s.State == "held" {
				out = append(out, s.ID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestForget: forget by policy (dry run first, then for real) and by ID
// writes requests and deletes nothing: every snapshot stays readable in
// .snapshots; requests lists them with their due dates and says when they
// are due; cancel by request and by snapshot; a hold blocks forget until
// released; each step is an audit record; the next mount warns.
func TestForget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be, "--deletion-delay", "5s", "--unsafe-short-delays", "--retention", "60s")
		m := r.mount(t)
		contents := map[string][]byte{}
		var ids []string
		for i := range 4 {
			data := bytes.Repeat([]byte(fmt.Sprintf("version %d\n", i)), 1000+i)
			putFile(t, filepath.Join(m.dir, "f"), data)
			id := m.snapshot(t)
			contents[id] = data
			ids = append(ids, id)
		}
		args := func(a ...string) []string { return append(a, r.repoArgs()...) }

		// A dry run writes nothing and says which rule keeps what.
		dry := r.forgetJSON(t, "--keep-last", "2", "--dry-run")
		if !dry.DryRun || dry.Request != nil || len(dry.Snapshots) != 4 {
			t.Fatalf("dry run: %+v", dry)
		}
		for _, s := range dry.Snapshots {
			wantKeep := s.ID == ids[2] || s.ID == ids[3]
			if (s.Action == "keep") != wantKeep || (s.Action != "keep" && s.Action != "remove") {
				t.Errorf("dry run: %s %s %v", s.ID[:8], s.Action, s.Reasons)
			}
			if wantKeep && (len(s.Reasons) != 1 || s.Reasons[0] != "last snapshot") {
				t.Errorf("dry run: %s kept for %v, want last snapshot", s.ID[:8], s.Reasons)
			}
		}
		text := r.mustCoffer(t, shortTimeout, args("forget", "--keep-last", "2", "--dry-run")...)
		if !strings.Contains(text.stdout, "last snapshot") || !strings.Contains(text.stdout, "would request the deletion of 2 snapshots") {
			t.Errorf("dry-run table:\n%s", text.stdout)
		}
		if reqs := r.requests(t); len(reqs) != 0 {
			t.Fatalf("a dry run wrote requests: %+v", reqs)
		}

		// For real: one request for the two oldest.
		res := r.mustCoffer(t, shortTimeout, args("forget", "--keep-last", "2")...)
		if !strings.Contains(res.stdout, "nothing is deleted now; prune acts after") {
			t.Errorf("forget did not say nothing is deleted:\n%s", res.stdout)
		}
		reqs := r.requests(t)
		if len(reqs) != 1 || !slices.Equal(pendingIDs(reqs), sorted(ids[0], ids[1])) {
			t.Fatalf("requests after forget --keep-last 2: %+v", reqs)
		}
		if d := reqs[0].Due.Sub(reqs[0].Uploaded); d != 5*time.Second || reqs[0].State != "pending" {
			t.Errorf("request due %s after its upload, state %q; want 5s, pending", d, reqs[0].State)
		}
		// Asking again requests nothing new.
		if again := r.forgetJSON(t, "--keep-last", "2"); again.Request != nil {
			t.Errorf("forgetting twice wrote %+v", again.Request)
		}
		// By ID.
		byID := r.forgetJSON(t, ids[2][:12])
		if byID.Request == nil || strings.Join(byID.Request.Snapshots, ",") != ids[2] {
			t.Fatalf("forget by ID: %+v", byID)
		}

		// Nothing was deleted: every snapshot reads back.
		var named []namedSnap
		if err := json.Unmarshal([]byte(r.mustCoffer(t, shortTimeout, args("snapshots", "--json")...).stdout), &named); err != nil || len(named) != 4 {
			t.Fatalf("coffer snapshots --json: %d snapshots, %v", len(named), err)
		}
		for _, s := range named {
			got, err := os.ReadFile(filepath.Join(m.dir, ".snapshots", s.Name, "f"))
			if err != nil || !bytes.Equal(got, contents[s.ID]) {
				t.Errorf("snapshot %s after forget: %d bytes, %v", s.Name, len(got), err)
			}
		}

		// A hold blocks forget, by name (exit 2) and by policy.
		hold := r.mustCoffer(t, shortTimeout, args("hold", ids[3], "--note", "audit")...)
		if be.name == "s3" && !strings.Contains(hold.stdout, "S3 legal hold placed on 1 snapshot object") {
			t.Errorf("hold on S3 placed no legal hold:\n%s", hold)
		}
		if res := r.coffer(t, shortTimeout, args("forget", ids[3])...); res.exitCode() != 2 || !strings.Contains(res.stderr, "held") {
			t.Errorf("forget of a held snapshot: %v", res)
		}
		pol := r.forgetJSON(t, "--keep-last", "1", "--keep-tag", "none", "--dry-run")
		for _, s := range pol.Snapshots {
			if s.ID == ids[3] && s.Action != "held" {
				t.Errorf("a held snapshot under a policy: %s %v", s.Action, s.Reasons)
			}
		}

		// Cancel one snapshot of the first request, and the second request
		// whole by a prefix of its key.
		r.mustCoffer(t, shortTimeout, args("forget", "--cancel", ids[0])...)
		second := strings.TrimPrefix(byID.Request.Key, "requests/")[:10]
		r.mustCoffer(t, shortTimeout, args("forget", "--cancel", second)...)
		reqs = r.requests(t)
		if len(reqs) != 1 || strings.Join(pendingIDs(reqs), ",") != ids[1] {
			t.Fatalf("requests after the cancellations: %+v", reqs)
		}
		if all := r.requests(t, "--all"); len(all) != 2 {
			t.Errorf("requests --all lists %d, want the cancelled one too", len(all))
		}
		if res := r.coffer(t, shortTimeout, args("forget", "--cancel", ids[2])...); res.exitCode() == 0 {
			t.Errorf("cancelling what is cancelled already succeeded: %v", res)
		}

		// Past the delay, by the store's clock: due.
		time.Sleep(time.Until(reqs[0].Due.Add(time.Second)))
		reqs = r.requests(t)
		if len(reqs) != 1 || reqs[0].State != "due, prune will act" {
			t.Errorf("a request past its delay: %+v", reqs)
		}
		warned := r.mustCoffer(t, shortTimeout, args("requests")...)
		if !strings.Contains(warned.stderr, "WARNING: 1 pending deletion request.") {
			t.Errorf("requests does not warn:\n%s", warned.stderr)
		}

		// Release, then forget works.
		rel := r.mustCoffer(t, shortTimeout, args("release", ids[3])...)
		if be.name == "s3" && !strings.Contains(rel.stdout, "S3 legal hold cleared on 1 snapshot object") {
			t.Errorf("release on S3 cleared no legal hold:\n%s", rel)
		}
		if res := r.coffer(t, shortTimeout, args("release", ids[3])...); res.exitCode() != 2 {
			t.Errorf("release of an unheld snapshot: %v", res)
		}
		if p := r.forgetJSON(t, ids[3]); p.Request == nil {
			t.Errorf("forget after release wrote no request")
		}
		// Asking again for a cancelled snapshot starts a new delay.
		if p := r.forgetJSON(t, ids[0]); p.Request == nil || !p.Request.Due.After(reqs[0].Due) {
			t.Errorf("forget after cancel: %+v, want a request due after %v", p.Request, reqs[0].Due)
		}
		m.umount(t)

		recs, _ := r.auditVerify(t)
		kinds := auditKinds(recs)
		for _, k := range []string{"forget", "hold", "cancel", "release"} {
			if !strings.Contains(kinds, k) {
				t.Errorf("no %s record in the audit log: %s", k, kinds)
			}
		}

		// The next mount warns of each pending request.
		m = r.mount(t)
		m.umount(t)
		if log := m.log(); strings.Count(log, "deletion requested") != 3 || !strings.Contains(log, "coffer forget --cancel") {
			t.Errorf("the mount's log does not warn of the 3 pending requests:\n%s", log)
		}
	})
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// TestForgetForgedTime: a snapshot planted with the key, stamped a year
// ahead, is judged by its upload time and named in a warning; with
// --keep-within, every real snapshot of the period stays whatever was
// planted (restic's documented attack on count-based policies).
func TestForgetForgedTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be, "--deletion-delay", "5s", "--unsafe-short-delays", "--retention", "60s")
		m := r.mount(t)
		var real []string
		for i := range 3 {
			putFile(t, filepath.Join(m.dir, "f"), []byte(fmt.Sprintf("real %d\n", i)))
			real = append(real, m.snapshot(t))
		}
		m.umount(t)

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		intruder := openWithKey(ctx, t, storeOf(t, be), r.keyFile)
		latest, err := intruder.LoadSnapshot(ctx, real[2])
		must(t, err)
		forged := *latest
		forged.ID, forged.Time, forged.Parent = "", time.Now().AddDate(1, 0, 0), ""
		must(t, intruder.SaveSnapshot(ctx, &forged))
		intruder.Close()

		p := r.forgetJSON(t, "--keep-last", "3", "--dry-run")
		for _, s := range p.Snapshots {
			if s.ID == real[0] && s.Action != "remove" {
				t.Errorf("by upload time the oldest real snapshot is the one past --keep-last 3: %s %v", s.Action, s.Reasons)
			}
		}
		res := r.mustCoffer(t, shortTimeout, append([]string{"forget", "--keep-last", "3", "--dry-run"}, r.repoArgs()...)...)
		warned := strings.Contains(res.stderr, "forged snapshot") && strings.Contains(res.stderr, "--keep-within")
		if !warned || !strings.Contains(res.stdout, "(time differs!)") {
			t.Errorf("no forged-time warning:\n%s", res)
		}
		p = r.forgetJSON(t, "--keep-last", "3", "--keep-within", "1d", "--dry-run")
		for _, s := range p.Snapshots {
			if s.Action != "keep" {
				t.Errorf("--keep-within 1d does not keep %s: %s", s.ID[:8], s.Action)
			}
		}
	})
}
