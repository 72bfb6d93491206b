// Package memory is an in-memory objectstore backend for tests. It keeps
// every object in a map, gives each Put a version ID, and enforces
// retention against an injected clock so tests can move time.
package memory
