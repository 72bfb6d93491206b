package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"coffer/objectstore"
	"coffer/objectstore/memory"
)

// failConfigPut is a store whose first Put of the config fails, as on a
// bucket that refuses a retention, after the key slot has been written.
type failConfigPut struct {
	objectstore.Store
	failed bool
}

func (f *failConfigPut) Put(ctx context.Context, key string, data []byte, ret objectstore.Retention) (string, error) {
	if key == configKey && !f.failed {
		f.failed = true
		return "", fmt.Errorf("put config: %w", objectstore.ErrPermission)
	}
	return f.Store.Put(ctx, key, data, ret)
}

// lockBucket is a store that answers the object-lock probe.
type lockBucket struct {
	objectstore.Store
	enabled bool
	err     error
}

func (l lockBucket) ObjectLockEnabled(context.Context) (bool, error) { return l.enabled, l.err }

func storeKeys(t *testing.T, st objectstore.Store) []string {
	t.Helper()
	var keys []string
	err := st.List(context.Background(), "", func(i objectstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestInitAdoptsUnfinished: an init that failed after writing its key slot
// is finished by the next init with the same secret, which reuses the slot
// (the next format locks slots, so they may not be deletable); another
// secret is refused as the wrong key, and nothing is written.
func TestInitAdoptsUnfinished(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(time.Now)
	st := &failConfigPut{Store: mem}
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	o := InitOptions{Retention: Policy{Days: 1}, Now: time.Now()}
	if _, err := Init(ctx, st, secret, o); err == nil {
		t.Fatal("first init did not fail")
	}
	left := storeKeys(t, mem)
	if len(left) != 1 {
		t.Fatalf("the failed init left %q, want one key slot", left)
	}

	other := Secret{Passphrase: []byte("other"), KDF: testKDF}
	if _, err := Init(ctx, st, other, o); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("init with another secret over an unfinished one: %v, want ErrWrongKey", err)
	}
	if now := storeKeys(t, mem); len(now) != 1 {
		t.Fatalf("the refused init wrote: %q", now)
	}

	if _, err := Init(ctx, st, secret, o); err != nil {
		t.Fatalf("init over its own unfinished attempt: %v", err)
	}
	if now := storeKeys(t, mem); len(now) != 2 || now[1] != left[0] {
		t.Fatalf("after the adopting init: %q, want config and the slot %s", now, left[0])
	}
	r, err := Open(ctx, mem, secret, Options{})
	if err != nil {
		t.Fatalf("open after the adopting init: %v", err)
	}
	r.Close()
	if _, err := Init(ctx, st, secret, o); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("init over a finished repository: %v, want ErrNotEmpty", err)
	}
}

// TestInitProbesObjectLock: a retention on a bucket without object lock is
// refused before anything is written; no retention, or a probe the
// credentials may not make, goes ahead.
func TestInitProbesObjectLock(t *testing.T) {
	ctx := context.Background()
	secret := Secret{Passphrase: []byte("pw"), KDF: testKDF}
	now := time.Now()
	cases := []struct {
		name    string
		bucket  lockBucket
		days    int
		wantErr error
	}{
		{"no lock, retention", lockBucket{enabled: false}, 30, ErrNoObjectLock},
		{"no lock, no retention", lockBucket{enabled: false}, 0, nil},
		{"lock, retention", lockBucket{enabled: true}, 30, nil},
		{"probe not allowed", lockBucket{err: fmt.Errorf("probe: %w", objectstore.ErrPermission)}, 30, nil},
		{"store away", lockBucket{err: fmt.Errorf("probe: %w", objectstore.ErrUnavailable)}, 30, objectstore.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.New(time.Now)
			c.bucket.Store = mem
			_, err := Init(ctx, c.bucket, secret, InitOptions{Retention: Policy{Days: c.days}, Now: now})
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("init: %v", err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("init: %v, want %v", err, c.wantErr)
			}
			if keys := storeKeys(t, mem); len(keys) != 0 {
				t.Fatalf("the refused init wrote %q", keys)
			}
		})
	}
}
