// Package memory is an in-memory objectstore backend for tests. Like a
// versioned S3 bucket with object lock, it keeps every version of every
// key, delete markers and per-version retention, judged against an
// injected clock so tests can move time, and legal holds. Its intruder
// methods (Overwrite, Hide) do what someone holding coffer's S3
// credentials could do, so tampering scenarios run in unit tests;
// DeleteVersion, the contract's method, serves both prune and intruder
// scenarios and never bypasses retention or a hold.
package memory
