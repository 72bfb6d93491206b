package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestKeyListJSON: key list --json names every slot, its kind and state,
// and which one opened the repository.
func TestKeyListJSON(t *testing.T) {
	bin := binary(t)
	tmp := t.TempDir()
	key, repoDir := filepath.Join(tmp, "key"), filepath.Join(tmp, "repo")
	if r := run(t, bin, nil, "key", "generate", key); r.code != 0 {
		t.Fatalf("key generate: %+v", r)
	}
	if r := run(t, bin, nil, "init", "--repo", repoDir, "--key-file", key); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	r := run(t, bin, nil, "key", "list", "--repo", repoDir, "--key-file", key, "--json")
	if r.code != 0 {
		t.Fatalf("key list --json: %+v", r)
	}
	var slots []struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		State string `json:"state"`
		InUse bool   `json:"in_use"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &slots); err != nil {
		t.Fatalf("key list --json printed %q: %v", r.stdout, err)
	}
	if len(slots) != 1 || slots[0].ID == "" || slots[0].Kind != "keyfile" || slots[0].State != "usable" || !slots[0].InUse {
		t.Fatalf("slots: %+v", slots)
	}
}
