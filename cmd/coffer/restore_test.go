package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"coffer/restore"
)

// TestRestoreJSONGolden freezes the JSON lines `coffer restore --json`
// prints (the README documents them).
func TestRestoreJSONGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	o := newRestoreOutput(&out, &errOut, true, false)
	o.problem("/etc/passwd", errors.New("block 1 of 1 (ab12, at offset 0): corrupt"))
	o.line(restoreStatus{Type: "status", Seconds: 1.5, PercentDone: 0.25, TotalFiles: 4, TotalBytes: 400,
		Counts: restore.Counts{Files: 1, Bytes: 100}})
	o.summary(restore.Summary{Counts: restore.Counts{Files: 3, Bytes: 300, FilesSkipped: 1, BytesSkipped: 100, Dirs: 2, Others: 1, Errors: 1},
		TotalFiles: 4, TotalBytes: 400, Duration: 2 * time.Second}, false)
	want := `{"message_type":"error","item":"/etc/passwd","error":"block 1 of 1 (ab12, at offset 0): corrupt"}
{"message_type":"status","seconds_elapsed":1.5,"percent_done":0.25,"total_files":4,"total_bytes":400,"files_restored":1,"bytes_restored":100,"files_skipped":0,"bytes_skipped":0,"dirs_restored":0,"others_restored":0,"errors":0}
{"message_type":"summary","files_restored":3,"bytes_restored":300,"files_skipped":1,"bytes_skipped":100,"dirs_restored":2,"others_restored":1,"errors":1,"total_files":4,"total_bytes":400,"seconds_elapsed":2}
`
	if out.String() != want {
		t.Errorf("restore --json printed\n%s\nwant\n%s", out.String(), want)
	}
	if errOut.Len() != 0 {
		t.Errorf("restore --json wrote to stderr: %q", errOut.String())
	}
}
