package main

import (
	"coffer/localstate"
	"coffer/repo"
)

// retainCache is repo.RetainCache over the state directory's retention
// file, so a restarted daemon extends only the locks that are due.
type retainCache struct{ f *localstate.Retain }

func (c retainCache) Load(repoID string) (map[string]repo.RetainEntry, error) {
	in, err := c.f.Load(repoID)
	if err != nil || in == nil {
		return nil, err
	}
	out := make(map[string]repo.RetainEntry, len(in))
	for k, e := range in {
		out[k] = repo.RetainEntry{Version: e.Version, Until: e.Until}
	}
	return out, nil
}

func (c retainCache) Save(repoID string, entries map[string]repo.RetainEntry) error {
	out := make(map[string]localstate.RetainEntry, len(entries))
	for k, e := range entries {
		out[k] = localstate.RetainEntry{Version: e.Version, Until: e.Until}
	}
	return c.f.Save(repoID, out)
}
