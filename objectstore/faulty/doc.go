// Package faulty wraps an objectstore.Store and injects failures into it,
// for tests of every retrying or multi-step path: fail the Nth matching
// call, fail calls on a key prefix, apply a call but lose its answer, or
// hold calls until the test releases them. Rules are added, removed and
// switched on and off while the store is in use.
package faulty
