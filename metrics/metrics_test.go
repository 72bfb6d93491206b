package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"coffer/daemon"
	"coffer/repo"
)

type fakeSource struct {
	mu sync.Mutex
	c  repo.Counters
}

func (f *fakeSource) Counters() repo.Counters { f.mu.Lock(); defer f.mu.Unlock(); return f.c }

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

func TestServeAndScrape(t *testing.T) {
	src := &fakeSource{c: repo.Counters{Written: 1000, Deduplicated: 400, Uploaded: 700, CacheHits: 3, CacheMisses: 1, PacksPending: 2}}
	m := New(src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveFUSE("read", 3*time.Millisecond)
	m.Committed(daemon.CommitSummary{ID: "abc", Time: time.Unix(1700000000, 0), Files: 12, Stored: 4096, Took: 1500 * time.Millisecond})
	body := scrape(t, addr)
	for _, want := range []string{
		"coffer_written_bytes_total 1000",
		"coffer_deduplicated_bytes_total 400",
		"coffer_uploaded_bytes_total 700",
		"coffer_packs_pending 2",
		"coffer_block_cache_hit_ratio 0.75",
		`coffer_fuse_request_duration_seconds_count{op="read"} 1`,
		"coffer_last_snapshot_timestamp_seconds 1.7e+09",
		"coffer_last_snapshot_duration_seconds 1.5",
		"coffer_last_snapshot_stored_bytes 4096",
		"coffer_snapshots_committed_total 1",
		"go_goroutines ",
	} {
		line := want + "\n" // the whole line, except for a name alone
		if strings.HasSuffix(want, " ") {
			line = want
		}
		if !strings.Contains("\n"+body, "\n"+line) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	src.mu.Lock()
	src.c.Written = 5000
	src.mu.Unlock()
	if body := scrape(t, addr); !strings.Contains(body, "coffer_written_bytes_total 5000\n") {
		t.Error("a second scrape does not read the counters again")
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get("http://" + addr + "/metrics"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still serving after the context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheckAddress(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9567", false, true},
		{"[::1]:9567", false, true},
		{"localhost:9567", false, true},
		{"127.0.0.2:9567", false, true},
		{":9567", false, false},
		{"0.0.0.0:9567", false, false},
		{"192.0.2.1:9567", false, false},
		{"metrics.example:9567", false, false},
		{"0.0.0.0:9567", true, true},
		{"9567", false, false},
	} {
		err := CheckAddress(c.addr, c.remote)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddress(%q, %v) = %v", c.addr, c.remote, err)
		}
		if err != nil && c.addr != "9567" && !errors.Is(err, ErrRemote) {
			t.Errorf("CheckAddress(%q): %v is not ErrRemote", c.addr, err)
		}
	}
}
