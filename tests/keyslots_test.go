package tests

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKeySlotsAreLockedAndRevoked: key slots carry the repository's
// retention; key remove writes a locked revocation and keeps the slot, whose
// key file then no longer opens the repository, except with
// --ignore-revocations.
func TestKeySlotsAreLockedAndRevoked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		st := storeOf(t, be)
		ctx := context.Background()
		spare := filepath.Join(r.scratch, "spare-key")
		r.mustCoffer(t, shortTimeout, "key", "generate", spare)
		res := r.mustCoffer(t, longTimeout, append(append([]string{"key", "add"}, r.repoArgs()...), "--new-key-file", spare)...)
		slot := regexp.MustCompile(`[0-9a-f]{16}`).FindString(res.stdout)
		if slot == "" {
			t.Fatalf("key add printed no slot ID: %v", res)
		}
		locked := func(key string) {
			t.Helper()
			info, err := st.Head(ctx, key)
			if err != nil {
				t.Fatalf("head %s: %v", key, err)
			}
			if info.RetainUntil.Before(time.Now().Add(29 * 24 * time.Hour)) {
				t.Errorf("%s: retain until %v, want the repository's 30 days", key, info.RetainUntil)
			}
		}
		slots := listKeys(t, st, "keys/")
		if len(slots) != 2 {
			t.Fatalf("key slots %q, want 2", slots)
		}
		for _, k := range append(slots, "config") {
			locked(k)
		}

		res = r.mustCoffer(t, longTimeout, append([]string{"key", "remove", slot}, r.repoArgs()...)...)
		if !strings.Contains(res.stdout, "revoked key slot "+slot) {
			t.Fatalf("key remove: %v", res)
		}
		if _, err := st.Head(ctx, "keys/"+slot); err != nil {
			t.Fatalf("the revoked slot object is gone: %v", err)
		}
		revs := listKeys(t, st, "revocations/")
		if len(revs) != 1 {
			t.Fatalf("revocations %q, want 1", revs)
		}
		locked(revs[0])

		spareArgs := []string{"--repo", be.repoURL, "--key-file", spare}
		spareArgs = append(spareArgs, be.flags...)
		res = r.coffer(t, longTimeout, append([]string{"key", "list"}, spareArgs...)...)
		if res.exitCode() != 3 || !strings.Contains(res.stderr, "revoked") {
			t.Fatalf("the revoked key file opens the repository: %v", res)
		}
		res = r.mustCoffer(t, longTimeout, append([]string{"key", "list", "--ignore-revocations"}, spareArgs...)...)
		if !regexp.MustCompile(`(?m)^\*\s+` + slot + `\s+keyfile\s+revoked$`).MatchString(res.stdout) {
			t.Fatalf("key list --ignore-revocations: %v", res)
		}
		r.mustCoffer(t, longTimeout, append([]string{"snapshots"}, r.repoArgs()...)...)
	})
}
