package local_test

import (
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/storetest"
)

// newStore opens a store on a fresh directory and closes it at the end.
func newStore(t *testing.T, clock func() time.Time) *local.Store {
	t.Helper()
	st, err := local.New(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return newStore(t, clock.Now)
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now, DeleteProber: true})
}
