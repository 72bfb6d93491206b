package main

import (
	"fmt"
	"io"
	"log/slog"

	"coffer/progress"
)

// logFormat is --log-format: how the daemon's log lines look.
type logFormat string

const (
	logText logFormat = "text" // slog's key=value lines, for people and journald
	logJSON logFormat = "json" // one JSON object a line, for log shippers
)

func (f *logFormat) String() string {
	if *f == "" {
		return string(logText)
	}
	return string(*f)
}

func (f *logFormat) Set(s string) error {
	switch logFormat(s) {
	case logText, logJSON:
		*f = logFormat(s)
		return nil
	}
	return fmt.Errorf("want text or json, not %q", s)
}

func (f *logFormat) Type() string { return "text|json" }

// newLogger logs to w in format: debug detail with verbose, warnings and
// errors only with --quiet, and informational lines otherwise.
func newLogger(w io.Writer, format logFormat, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case verbose:
		level = slog.LevelDebug
	case progress.Quiet:
		level = slog.LevelWarn
	}
	o := &slog.HandlerOptions{Level: level}
	if format == logJSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// loggedError is an error the command has already logged: main prints
// nothing more, and exits with its code.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// inform prints an informational line (what happened, when the exit
// status already says it went well); --quiet drops it. Results a script
// reads (an ID, a listing), warnings and errors are printed without it.
func inform(w io.Writer, format string, a ...any) {
	if progress.Quiet {
		return
	}
	fmt.Fprintf(w, format, a...)
}
