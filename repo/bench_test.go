package repo

import (
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/memory"
)

// BenchmarkWriteLocal streams random data through a FileWriter into a
// local store, fsyncs included: the write path without FUSE.
func BenchmarkWriteLocal(b *testing.B) {
	st, err := local.New(b.TempDir(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	benchWrite(b, st)
}

// BenchmarkWriteMemory is BenchmarkWriteLocal into the memory store: the
// write path's CPU without the disk.
func BenchmarkWriteMemory(b *testing.B) {
	benchWrite(b, memory.New(time.Now))
}

func benchWrite(b *testing.B, st objectstore.Store) {
	ctx := context.Background()
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); err != nil {
		b.Fatal(err)
	}
	r, err := Open(ctx, st, secret, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	data := randBytes(3, 64<<20)
	b.SetBytes(int64(len(data)))
	cpu0 := cpuSeconds(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// New contents, so nothing deduplicates: every 4 KiB gets the
		// round's number (cheaper than new random data, which would
		// cost more CPU than the write path itself).
		for off := 0; off < len(data); off += 4 << 10 {
			binary.LittleEndian.PutUint64(data[off:], uint64(i))
		}
		w := r.NewFileWriter()
		for off := 0; off < len(data); off += 1 << 20 {
			if err := w.WriteAt(ctx, data[off:off+1<<20], int64(off)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := r.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(data))/(cpuSeconds(b)-cpu0)/1e6, "cpu-MB/s")
}

// cpuSeconds is the process's CPU time so far: on a shared machine the
// write path's own cost, where wall-clock time is also the neighbours'.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
