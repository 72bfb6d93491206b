// Package check verifies a repository from the outside, reading only: the
// config and key slots; the indexes against the packs, both ways; every
// snapshot's trees and the location of every block they name; the audit
// chain; and, with read-data, every block of every pack (or a subset),
// authenticated and checked against its ID. It lists what it finds as
// errors (something a restore would miss, or damage) and warnings
// (leftovers, tampering that reads ignore), one line each, and counts
// what it saw.
//
// Run is what `coffer check` calls, and what tests call to prove that an
// operation (prune, say) lost nothing.
package check
