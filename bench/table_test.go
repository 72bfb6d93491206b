package main

import (
	"strings"
	"testing"
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
