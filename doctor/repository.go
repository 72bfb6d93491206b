package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"coffer/objectstore"
)

// maxItems bounds how many findings one result lists.
const maxItems = 50

// metaPrefixes hold the objects whose loss is a ransom: the key slots
// (without one, the data is locked but unreadable), their revocations
// (deleting one would bring a revoked slot back) and the audit log.
var metaPrefixes = []string{"keys/", "revocations/", "audit/"}

// local runs, on a store without Prober (a local directory), the checks
// that apply there, and says which do not.
func (d *run) local(ctx context.Context) error {
	key := d.base + "conditional"
	if _, err := d.o.Store.Put(ctx, key, []byte("first\n"), objectstore.Retention{}); err != nil {
		return fmt.Errorf("doctor: write canary %s: %w", key, err)
	}
	_, err := d.o.Store.Put(ctx, key, []byte("second\n"), objectstore.Retention{})
	r := Result{Promise: PromiseConditionalPut, Status: Holds, Detail: "the second write was refused"}
	if !errors.Is(err, objectstore.ErrExists) {
		r.Status, r.Detail, r.Fix = Broken, fmt.Sprintf("the second write was answered %v", err), "report this: the store overwrote a key"
	}
	d.add(r)
	na := "a local directory has no versions, bucket settings or credentials: anyone who can write to it can delete; keep backups that must outlive an intruder in an S3 bucket with object lock"
	for _, p := range []string{PromiseVersioning, PromiseObjectLock, PromiseCompliance, PromiseNoDelete,
		PromiseNoDeleteMarker, PromiseNoBypass, PromiseNoVersioning, PromiseNoLockConfig, PromiseLifecycle} {
		d.add(Result{Promise: p, Status: NotApplicable, Detail: na})
	}
	return nil
}

// lockedMetadata checks that the first version of every key slot and
// audit record is locked beyond now.
func (d *run) lockedMetadata(ctx context.Context) error {
	now, err := d.serverNow(ctx)
	if err != nil {
		return err
	}
	// A version ID reads that version's retention; an unversioned bucket
	// lists "null" (or nothing), and then the key has just the one.
	p, _ := d.o.Store.(Prober)
	count := 0
	var unlocked []string
	for _, prefix := range metaPrefixes {
		firsts, err := firstVersions(ctx, d.o.Store, prefix)
		if err != nil {
			return err
		}
		for _, v := range firsts {
			count++
			var ret objectstore.Retention
			if p != nil && v.VersionID != "" && v.VersionID != "null" {
				ret, err = p.ProbeRetention(ctx, v.Key, v.VersionID)
			} else {
				var info objectstore.Info
				info, err = d.o.Store.Head(ctx, v.Key)
				ret = objectstore.Retention{Mode: info.Mode, Until: info.RetainUntil}
			}
			if err != nil {
				return fmt.Errorf("doctor: read the retention of %s: %w", v.Key, err)
			}
			if !ret.Until.After(now) {
				unlocked = append(unlocked, v.Key+": not locked")
			}
		}
	}
	r := Result{Promise: PromiseLockedMeta, Status: Holds, Detail: fmt.Sprintf("%d objects, all locked", count)}
	if len(unlocked) > 0 {
		r.Status, r.Items = Broken, clipItems(unlocked)
		r.Detail = fmt.Sprintf("%d of %d objects not locked", len(unlocked), count)
		r.Fix = "deleting an unlocked key slot is a ransom; mount the repository with a coffer that locks key slots and audit records (it extends them at the next snapshot)"
	}
	d.add(r)
	return nil
}

// tampering lists every later version and delete marker on coffer's keys
// (everything outside doctor/): coffer writes each key once, so the first
// version is its and anything after it is someone else's.
func (d *run) tampering(ctx context.Context) error {
	var found []string
	var last string
	err := d.o.Store.ListVersions(ctx, "", func(v objectstore.Version) error {
		if strings.HasPrefix(v.Key, CanaryPrefix) {
			return nil
		}
		first := v.Key != last
		last = v.Key
		switch {
		case v.DeleteMarker:
			found = append(found, fmt.Sprintf("%s: delete marker %s of %s", v.Key, v.VersionID, stamp(v.Modified)))
		case !first:
			found = append(found, fmt.Sprintf("%s: later version %s of %s (%d bytes)", v.Key, v.VersionID, stamp(v.Modified), v.Size))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("doctor: list versions: %w", err)
	}
	r := Result{Promise: PromiseNoTampering, Status: Holds, Detail: "none found"}
	if len(found) > 0 {
		r.Status, r.Items = Broken, clipItems(found)
		r.Detail = fmt.Sprintf("%d found; coffer reads each key's first version and ignores these", len(found))
		r.Fix = "someone with write access to the bucket put these there: find out who (coffer audit, the store's access logs), replace the credentials, and run coffer policy for least-privilege ones"
	}
	d.add(r)
	return nil
}

// firstVersions returns the first version that is not a delete marker of
// every key under prefix.
func firstVersions(ctx context.Context, st objectstore.Store, prefix string) ([]objectstore.Version, error) {
	out, err := objectstore.FirstVersions(ctx, st, prefix)
	if err != nil {
		return nil, fmt.Errorf("doctor: list versions under %s: %w", prefix, err)
	}
	return out, nil
}

func clipItems(items []string) []string {
	if len(items) <= maxItems {
		return items
	}
	return append(items[:maxItems:maxItems], fmt.Sprintf("... and %d more", len(items)-maxItems))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
