package metrics

import (
	"testing"
	"time"
)

// What timing one FUSE request costs (the wrapper calls this once per
// request; a FUSE round trip takes tens of microseconds).
func BenchmarkObserveFUSE(b *testing.B) {
	m := New(&fakeSource{})
	for b.Loop() {
		m.ObserveFUSE("read", 40*time.Microsecond)
	}
}
