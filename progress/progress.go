// Package progress draws one progress line on a terminal (files and bytes
// done, rate, time left) for long commands: restore, check --read-data,
// prune. Anywhere else (a pipe, a log file, a cron job) it draws nothing,
// so output meant for scripts stays clean.
//
// It wraps github.com/schollz/progressbar/v3: one self-overwriting line
// that degrades to nothing on a narrow or dumb terminal, with byte units,
// rate and ETA built in, and no goroutine of its own (mpb's multi-bar
// model is more than one line a command needs).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Quiet silences every bar (the commands' --quiet).
var Quiet bool

// Bar is one progress line. The zero of *Bar (nil) and a Bar on something
// that is not a terminal do nothing. Its methods are safe for concurrent
// use.
type Bar struct {
	mu         sync.Mutex
	bar        *progressbar.ProgressBar
	label      string
	files      int64
	totalFiles int64
}

// New starts a bar on w labelled label (naming what is counted: "restoring
// files"), out of totalBytes and totalFiles items (either may be 0:
// unknown). It returns a silent bar when w is not a
// terminal or Quiet is set.
func New(w io.Writer, label string, totalBytes, totalFiles int64) *Bar {
	f, ok := w.(*os.File)
	if Quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	max := totalBytes
	if max <= 0 {
		max = -1 // unknown: a spinner with counts
	}
	b := &Bar{label: label, totalFiles: totalFiles}
	b.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(f),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetDescription(b.describe()),
		progressbar.OptionClearOnFinish(),
	)
	return b
}

// describe is the label and the count done: the label names what is
// counted ("restoring files", "check: packs read").
func (b *Bar) describe() string {
	if b.totalFiles > 0 {
		return fmt.Sprintf("%s %d/%d", b.label, b.files, b.totalFiles)
	}
	return fmt.Sprintf("%s %d", b.label, b.files)
}

// Add counts files and bytes done.
func (b *Bar) Add(files, bytes int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if files != 0 {
		b.files += files
		b.bar.Describe(b.describe())
	}
	_ = b.bar.Add64(bytes)
}

// Done clears the line; what the command prints next starts on a clean
// line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Finish()
	_ = b.bar.Clear()
}
