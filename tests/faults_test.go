package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"coffer/objectstore/s3/s3test"
)

// proxiedS3Backend starts versitygw with a fault-injecting proxy in front;
// every coffer process talks to the proxy.
func proxiedS3Backend(t *testing.T) (*backend, *faultProxy) {
	t.Helper()
	srv := s3test.Start(t, s3test.Options{})
	bucket := srv.NewBucket(t, true)
	px := startFaultProxy(t, srv.Endpoint)
	be := s3BackendOn(srv, bucket)
	be.env = append(be.env, "AWS_ENDPOINT_URL_S3="+px.URL)
	return be, px
}

// TestStoreFaultRoundsHeal drives a mount through rounds of S3 faults.
// Each round writes files (one crosses a pack) and commits under the
// fault, then the store is healthy again and the first `coffer snapshot`
// must succeed, with no restart, and every file read back identical. An
// outage round checks that a snapshot during the outage fails with exit
// 5 and the first one after it succeeds. Last, a new daemon reads every
// file back through cut response bodies.
func TestStoreFaultRoundsHeal(t *testing.T) {
	be, px := proxiedS3Backend(t)
	r := newRepo(t, be)
	m := r.mount(t)
	rng := newRand(t.Name())
	want := map[string][]byte{}
	rounds := []struct {
		name string
		rule proxyRule
	}{
		{"500", proxyRule{Fault: fail500, Every: 2}},
		{"503-slowdown", proxyRule{Fault: slowDown503, Every: 2}},
		{"reset-before", proxyRule{Fault: resetBefore, Every: 2}},
		{"reset-after-put", proxyRule{Fault: resetAfter, Method: "PUT", Every: 2}},
		{"500-after-put", proxyRule{Fault: applied500, Method: "PUT", Every: 2}},
		{"delay", proxyRule{Fault: delayed, Every: 1, Delay: 150 * time.Millisecond}},
		{"cut-bodies", proxyRule{Fault: cutBody, Method: "GET", Every: 2}},
	}
	for i, rd := range rounds {
		px.set(rd.rule)
		files := map[string][]byte{
			fmt.Sprintf("r%d/small", i): randBytes(rng, 10<<10),
			fmt.Sprintf("r%d/big", i):   randBytes(rng, 17<<20), // more than one pack
		}
		must(t, os.MkdirAll(filepath.Join(m.dir, fmt.Sprintf("r%d", i)), 0o755))
		for name, data := range files {
			writeFile(t, filepath.Join(m.dir, name), data, 0o644)
			want[name] = data
		}
		if res := r.coffer(t, longTimeout, "snapshot", m.dir); res.err != nil {
			t.Logf("round %s: snapshot under the fault failed (allowed): %v", rd.name, res)
		}
		px.set(proxyRule{})
		m.snapshot(t) // the first snapshot with the store back must succeed
		for name, data := range files {
			assertFileBytes(t, filepath.Join(m.dir, name), data)
		}
		t.Logf("after round %s: %d requests faulted in all", rd.name, px.faults.Load())
	}
	if px.status412.Load() == 0 {
		t.Error("no put was answered 412 after an applied attempt: the answer-lost case was not exercised")
	}

	// An outage while a large file is written: more than the daemon may
	// hold in memory, so the writer is held back until the store is back,
	// then goes on; nothing fails.
	px.set(proxyRule{Fault: slowDown503, Every: 1})
	healed := time.AfterFunc(4*time.Second, func() { px.set(proxyRule{}) })
	defer healed.Stop()
	want["held-back"] = randBytes(rng, 100<<20)
	start := time.Now()
	writeFile(t, filepath.Join(m.dir, "held-back"), want["held-back"], 0o644)
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("100 MiB written in %v during a 4 s outage: the writer was not held back", d)
	}
	m.snapshot(t)
	assertFileBytes(t, filepath.Join(m.dir, "held-back"), want["held-back"])

	// A whole outage: the snapshot reports it, the next one heals.
	px.set(proxyRule{Fault: slowDown503, Every: 1})
	want["during-outage"] = randBytes(rng, 20<<20) // a full pack fails in the background
	writeFile(t, filepath.Join(m.dir, "during-outage"), want["during-outage"], 0o644)
	start = time.Now()
	res := r.coffer(t, longTimeout, "snapshot", m.dir)
	if res.exitCode() != 5 {
		t.Errorf("snapshot during an outage: exit %d, want 5: %v", res.exitCode(), res)
	}
	t.Logf("snapshot during the outage reported it after %v", time.Since(start).Round(time.Second))
	px.set(proxyRule{})
	m.snapshot(t)
	assertFileBytes(t, filepath.Join(m.dir, "during-outage"), want["during-outage"])
	m.umount(t)

	// A fresh daemon reads everything back through cut bodies.
	px.set(proxyRule{Fault: cutBody, Method: "GET", Every: 3})
	before := px.faults.Load()
	if n := len(r.snapshots(t)); n < len(rounds)+1 {
		t.Errorf("%d snapshots listed, want at least %d", n, len(rounds)+1)
	}
	m2 := r.mount(t)
	for name, data := range want {
		assertFileBytes(t, filepath.Join(m2.dir, name), data)
	}
	if cut := px.faults.Load() - before; cut == 0 {
		t.Fatal("no response body was cut while reading back")
	} else {
		t.Logf("read back through %d cut bodies", cut)
	}
	px.set(proxyRule{})
}

// TestFullLocalStoreHeals puts a local repository on a small tmpfs that a
// filler file makes full, then writes more than three packs. fsync is
// ENOSPC and a snapshot fails; once the filler is removed, the first
// `coffer snapshot` succeeds without a restart and every file reads back
// identical, there and from a new daemon.
func TestFullLocalStoreHeals(t *testing.T) {
	tool(t, "mount")
	tool(t, "umount")
	fsDir := filepath.Join(t.TempDir(), "small")
	must(t, os.Mkdir(fsDir, 0o700))
	mustRun(t, shortTimeout, nil, "mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", fsDir)
	t.Cleanup(func() { run(t, shortTimeout, nil, "umount", fsDir) })
	repoDir := filepath.Join(fsDir, "repo")
	must(t, os.Mkdir(repoDir, 0o700))
	be := &backend{name: "local", repoURL: repoDir, dataDirs: []string{repoDir}}
	r := newRepo(t, be)
	m := r.mount(t)
	rng := newRand(t.Name())

	filler := filepath.Join(fsDir, "filler")
	writeRandomFile(t, filler, 88<<20, rng)
	want := map[string][]byte{}
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		name := fmt.Sprintf("f%d", i)
		data := randBytes(rng, 15<<20)
		var f *os.File
		if f, err = os.Create(filepath.Join(m.dir, name)); err != nil {
			break
		}
		_, err = f.Write(data)
		if err == nil && i == 3 {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		want[name] = data
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 60 MiB to a store with 8 MiB free: %v, want ENOSPC", err)
	}
	if res := r.coffer(t, longTimeout, "snapshot", m.dir); res.err == nil {
		t.Fatalf("snapshot on a full store succeeded: %v", res)
	}

	must(t, os.Remove(filler))
	m.snapshot(t)
	for name, data := range want {
		assertFileBytes(t, filepath.Join(m.dir, name), data)
	}
	m.umount(t)
	m2 := r.mount(t)
	for name, data := range want {
		assertFileBytes(t, filepath.Join(m2.dir, name), data)
	}
}
