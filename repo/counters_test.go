package repo

import (
	"context"
	"testing"

	"coffer/objectstore/faulty"
)

// The counters follow what the write path does: file data written, the
// part found already stored, what the store accepted, and failed uploads
// with their retries.
func TestCounters(t *testing.T) {
	r, st := faultRepo(t, nil)
	ctx := context.Background()
	data := randBytes(3, 512<<10)
	write := func() {
		w := r.NewFileWriter()
		if err := w.WriteAt(ctx, data, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := r.Counters()
	st.Add(faulty.Fault{Ops: putOps, Prefix: dataPrefix, Times: 2})
	write()
	c := r.Counters()
	if got := c.Written - before.Written; got != int64(len(data)) {
		t.Errorf("written %d, want %d", got, len(data))
	}
	if c.Deduplicated != before.Deduplicated {
		t.Errorf("deduplicated %d of new data", c.Deduplicated-before.Deduplicated)
	}
	if c.Uploaded-before.Uploaded < int64(len(data)) || c.Objects == before.Objects {
		t.Errorf("uploaded %d bytes in %d objects, want at least %d", c.Uploaded-before.Uploaded, c.Objects-before.Objects, len(data))
	}
	if c.UploadErrors-before.UploadErrors != 2 || c.Retries-before.Retries != 2 {
		t.Errorf("%d upload errors, %d retries; want 2 and 2", c.UploadErrors-before.UploadErrors, c.Retries-before.Retries)
	}
	if c.PacksPending != 0 {
		t.Errorf("%d packs pending after a flush", c.PacksPending)
	}
	write() // the same bytes again
	d := r.Counters()
	if d.Written-c.Written != int64(len(data)) || d.Deduplicated-c.Deduplicated != int64(len(data)) {
		t.Errorf("second copy: written %d, deduplicated %d; want %d each", d.Written-c.Written, d.Deduplicated-c.Deduplicated, len(data))
	}
	if d.Uploaded-c.Uploaded >= int64(len(data)) {
		t.Errorf("second copy uploaded %d bytes again", d.Uploaded-c.Uploaded)
	}
}
