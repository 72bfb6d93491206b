package forget

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"coffer/repo"
)

// RequestPrefix starts every request's key; a reference to a request may
// leave it out.
const RequestPrefix = "requests/"

// ErrNoRequest: a reference names no deletion request.
var ErrNoRequest = errors.New("no such deletion request")

// ErrAmbiguousRequest: a reference is the prefix of several requests'
// keys.
var ErrAmbiguousRequest = errors.New("ambiguous deletion request")

// FindRequest resolves ref, a request's key with or without "requests/"
// or a unique prefix of its hex part, among d's requests (cancelled ones
// too: cancelling one again is harmless, and the error would mislead).
func FindRequest(d *repo.Deletions, ref string) (*repo.DeletionRequest, error) {
	hex := strings.TrimPrefix(ref, RequestPrefix)
	if hex == "" {
		return nil, fmt.Errorf("%w: empty reference", ErrNoRequest)
	}
	var found []*repo.DeletionRequest
	for _, req := range d.Requests {
		if strings.HasPrefix(strings.TrimPrefix(req.Key, RequestPrefix), hex) {
			found = append(found, req)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %q ('coffer requests --all' lists them)", ErrNoRequest, ref)
	case 1:
		return found[0], nil
	}
	keys := make([]string, len(found))
	for i, req := range found {
		keys[i] = req.Key
	}
	return nil, fmt.Errorf("%w: %q starts %s; give more of the key", ErrAmbiguousRequest, ref, strings.Join(keys, ", "))
}

// Cancellation is one cancellation object to write: it ends Request for
// Snapshots, or for all of the request's snapshots when Snapshots is nil.
type Cancellation struct {
	Request   *repo.DeletionRequest
	Snapshots []string
}

// Cancellations is what cancelling whole requests and single snapshots
// takes: one cancellation per request touched, in the requests' order. A
// whole request swallows the snapshots also named of it; a snapshot is
// cancelled in every request that still names it. Requests already fully
// cancelled, and snapshots no request names, give nothing; an empty
// result means there was nothing pending to cancel.
func Cancellations(d *repo.Deletions, whole []*repo.DeletionRequest, snapshots []string) []Cancellation {
	var out []Cancellation
	for _, req := range d.Requests {
		if !pendingIn(req) {
			continue
		}
		if slices.ContainsFunc(whole, func(w *repo.DeletionRequest) bool { return w.Key == req.Key }) {
			out = append(out, Cancellation{Request: req})
			continue
		}
		var ids []string
		for _, id := range snapshots {
			if _, cancelled := req.Cancelled[id]; !cancelled && slices.Contains(req.Snapshots, id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			out = append(out, Cancellation{Request: req, Snapshots: ids})
		}
	}
	return out
}

// pendingIn reports whether req still names a snapshot not cancelled.
func pendingIn(req *repo.DeletionRequest) bool {
	return slices.ContainsFunc(req.Snapshots, func(id string) bool {
		_, cancelled := req.Cancelled[id]
		return !cancelled
	})
}

// PendingRequests lists d's requests that still name a snapshot not cancelled,
// oldest first.
func PendingRequests(d *repo.Deletions) []*repo.DeletionRequest {
	return slices.DeleteFunc(slices.Clone(d.Requests), func(req *repo.DeletionRequest) bool { return !pendingIn(req) })
}
