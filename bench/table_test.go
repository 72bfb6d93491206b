package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPerFile(t *testing.T) {
	total, detail := perFile(map[string]uint64{"LOOKUP": 330, "CREATE": 100, "FORGET": 500, "STATFS": 1}, 100)
	if total != 4.31 {
		t.Errorf("total = %v, want 4.31 (FORGET left out)", total)
	}
	if detail != "LOOKUP 3.3, CREATE 1.0" {
		t.Errorf("detail = %q", detail)
	}
}

func TestTableResults(t *testing.T) {
	b := &bench{vals: map[string]float64{"a": 3, "b": 2}, notes: map[string]string{},
		fails: map[string]string{"c": "n/a: no such command", "d": "skipped (-skip x)", "e": "coffer: exit 1"}}
	rows := []row{
		{"1", "a / b", "a/b", "ratio", "<= 2"},   // 1.5: PASS
		{"1", "b / a", "b/a", "ratio", ">= 1"},   // 0.67: MISS
		{"1", "a", "a", "s", ""},                 // info
		{"1", "c / a", "c/a", "ratio", "< 1"},    // n/a
		{"1", "d", "d", "s", ""},                 // skipped
		{"1", "e / a", "e/a", "ratio", "<= 1"},   // FAILED
		{"1", "never measured", "z", "s", "< 1"}, // FAILED
	}
	text, failed, missed := b.table(rows)
	if failed != 2 || missed != 1 {
		t.Errorf("failed %d, missed %d; want 2, 1:\n%s", failed, missed, text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")[2:]
	for i, want := range []string{"PASS", "MISS", "info", "n/a", "skipped", "FAILED", "FAILED"} {
		if !strings.Contains(lines[i], "| "+want+" ") {
			t.Errorf("row %d: want %s in %q", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[3], "no such command") || !strings.Contains(lines[5], "needs e: coffer: exit 1") {
		t.Errorf("notes missing:\n%s", text)
	}
}

func TestParseProcCPU(t *testing.T) {
	// pid (comm with ") " inside) state ppid ... utime=250 stime=130 ...
	stat := "4242 (cof fer) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 130 0 0 20 0 12 0 100 1000000 500\n"
	got, err := parseProcCPU(stat)
	if err != nil || got != 3800*time.Millisecond {
		t.Errorf("parseProcCPU = %v, %v; want 3.8s", got, err)
	}
	if _, err := parseProcCPU("4242 (short) S 1 2"); err == nil {
		t.Errorf("a short stat line parsed")
	}
	if n := requests(map[string]uint64{"lookup": 3, "FORGET": 9, "create": 1}); n != 4 {
		t.Errorf("requests = %d, want 4", n)
	}
}

func TestProcessCPUSelf(t *testing.T) {
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
