package local

import (
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"coffer/objectstore"
)

// BenchmarkPut stores pack-sized objects, fsyncs included: the cost of
// the local store on the write path.
func BenchmarkPut(b *testing.B) {
	for _, aligned := range []bool{false, true} {
		b.Run(fmt.Sprintf("direct=%v", aligned), func(b *testing.B) { benchPut(b, aligned) })
	}
}

func benchPut(b *testing.B, aligned bool) {
	s, err := New(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 16<<20+2*directBlock)
	// The start that makes the data's whole file blocks aligned in
	// memory too (see directStart), or one that does not.
	skip := directBlock - int(uintptr(unsafe.Pointer(&data[0]))%directBlock) + headerSize
	if !aligned {
		skip++
	}
	data = data[skip : skip+16<<20]
	if (directStart(data) > 0) != aligned {
		b.Fatalf("directStart %d", directStart(data))
	}
	_, _ = rand.Read(data)
	ret := objectstore.Retention{Mode: objectstore.Compliance, Until: time.Now().Add(time.Hour)}
	b.SetBytes(int64(len(data)))
	i := 0
	cpu0 := cpuSeconds(b)
	for b.Loop() {
		i++
		if _, err := s.Put(context.Background(), fmt.Sprintf("data/%02x/p%d", i%256, i), data, ret); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i*len(data))/(cpuSeconds(b)-cpu0)/1e6, "cpu-MB/s")
}

// cpuSeconds is the process's CPU time: on a shared machine it measures
// the store's own work where wall-clock time measures the disk.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkExtendRetention extends 64 objects' retention, 8 at a time,
// as a snapshot's retention step does for the packs written since the
// last one.
func BenchmarkExtendRetention(b *testing.B) {
	s, err := New(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	const keys = 64
	for i := range keys {
		if _, err := s.Put(ctx, fmt.Sprintf("data/%02x/k%d", i%16, i), []byte("x"), objectstore.Retention{Until: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	round := 0
	for b.Loop() {
		round++
		ret := objectstore.Retention{Until: now.Add(time.Duration(round+1) * time.Hour)}
		var g errgroup.Group
		g.SetLimit(8)
		for i := range keys {
			g.Go(func() error { return s.ExtendRetention(ctx, fmt.Sprintf("data/%02x/k%d", i%16, i), ret) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
