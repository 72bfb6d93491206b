package memory_test

import (
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
	"coffer/objectstore/storetest"
)

func TestConformance(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		return memory.New(clock.Now)
	}, storetest.Options{Advance: clock.Advance, Retention: true, Now: clock.Now, LegalHolds: true, DeleteProber: true,
		Intruder: func(t *testing.T, st objectstore.Store) storetest.Intruder { return st.(*memory.Store) }})
}
