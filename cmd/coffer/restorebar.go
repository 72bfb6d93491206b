package main

import (
	"coffer/progress"
	"coffer/restore"
)

// restoreBar draws a restore's progress on stderr when it is a terminal
// (package progress): files and bytes done, rate and time left. Bytes
// kept by --overwrite if-changed count as done.
type restoreBar struct {
	o    *restoreOutput
	x    *restore.Restorer
	bar  *progress.Bar // made at the first update, once totals are known
	last restore.Counts
}

func newRestoreBar(o *restoreOutput, x *restore.Restorer) *restoreBar {
	return &restoreBar{o: o, x: x}
}

func (b *restoreBar) update(c restore.Counts) {
	if b.o.json || b.o.quiet {
		return
	}
	if b.bar == nil {
		_, files, bytes := b.x.Progress()
		b.bar = progress.New(b.o.stderr, "restoring", bytes, files)
	}
	done := func(c restore.Counts) (int64, int64) {
		return c.Files + c.FilesSkipped, c.Bytes + c.BytesSkipped
	}
	f1, b1 := done(c)
	f0, b0 := done(b.last)
	b.bar.Add(f1-f0, b1-b0)
	b.last = c
}

func (b *restoreBar) done() { b.bar.Done() }
