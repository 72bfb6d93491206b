// Package inspect looks at a repository without mounting it: it lists a
// snapshot's files (ls), compares two snapshots (diff), totals what the
// snapshots hold and store (stats), and picks snapshots by tag, host and
// age (Filter). It only reads, through package repo; the commands in
// cmd/coffer parse flags and print what it returns, and the JSON shapes
// they print are defined here, beside the code that fills them, so the
// golden tests pin them.
package inspect
