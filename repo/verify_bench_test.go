package repo

import (
	"context"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/memory"
)

// BenchmarkReadVerify reads a 64 MiB file back block by block, every
// block fetched from the store (the block cache is too small to hold
// one), with and without the check that each block's keyed MAC is its
// ID: the check's share of a read. The memory store has no I/O at all, so
// there it is the largest share it can be; the local store adds the file
// system. Compare ns/op (or MB/s) of .../verified with .../unverified.
func BenchmarkReadVerify(b *testing.B) {
	for _, backend := range []struct {
		name string
		new  func(b *testing.B) objectstore.Store
	}{
		{"memory", func(b *testing.B) objectstore.Store { return memory.New(time.Now) }},
		{"local", func(b *testing.B) objectstore.Store {
			st, err := local.New(b.TempDir(), time.Now)
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	} {
		b.Run(backend.name, func(b *testing.B) {
			ctx := context.Background()
			st := backend.new(b)
			secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
			if _, err := Init(ctx, st, secret, InitOptions{Now: time.Now()}); err != nil {
				b.Fatal(err)
			}
			r, err := Open(ctx, st, secret, Options{CacheBytes: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			data := randBytes(5, 64<<20)
			w := r.NewFileWriter()
			if err := w.WriteAt(ctx, data, 0); err != nil {
				b.Fatal(err)
			}
			refs, err := w.Close(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			for _, mode := range []struct {
				name string
				skip bool
			}{{"verified", false}, {"unverified", true}} {
				b.Run(mode.name, func(b *testing.B) {
					r.skipIDCheck = mode.skip
					defer func() { r.skipIDCheck = false }()
					b.SetBytes(int64(len(data)))
					for b.Loop() {
						for _, ref := range refs {
							if _, err := r.ReadBlock(ctx, DataBlock, ref.ID); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			}
		})
	}
}
