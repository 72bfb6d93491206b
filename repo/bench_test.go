package repo

import (
	"context"
	"testing"
	"time"

	"coffer/objectstore/local"
)

// BenchmarkWriteLocal streams random data through a FileWriter into a
// local store, fsyncs included: the write path without FUSE.
func BenchmarkWriteLocal(b *testing.B) {
	ctx := context.Background()
	st, err := local.New(b.TempDir(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
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
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data = randBytes(uint64(i)+10, len(data)) // new contents: no deduplication
		b.StartTimer()
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
}
