// Package audit owns the repository's audit log: a hash chain of sealed,
// locked, put-once records under audit/<sequence>, one per operation
// (init, mount, unmount, snapshot commit, retention extension, key change,
// doctor run). It writes records (Log.Append), reads them (Log.Read) and
// proves the chain whole (Log.Verify). It sits below repo and imports
// only cipher and objectstore; repo and the commands feed it.
package audit
