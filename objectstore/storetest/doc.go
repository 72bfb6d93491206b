// Package storetest is the one conformance suite for objectstore.Store.
// Every backend's tests call Run; a backend that does not pass it is not a
// backend. The suite checks the semantics coffer relies on: put-once,
// read-after-write, exact ranges, lexical paginated listing, retention
// that refuses deletes and never shortens, sentinel errors, and versions:
// listed oldest first, read by ID, delete markers, retention per version
// (with an Intruder to put over and hide keys where the backend allows it).
package storetest
