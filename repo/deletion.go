package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"coffer/objectstore"
)

// The prefixes of deletion's objects. They are part of the format (see
// docs/FORMAT.md, "Deletion").
const (
	requestsPrefix      = "requests/"
	cancellationsPrefix = "cancellations/"
	holdsPrefix         = "holds/"
	releasesPrefix      = "releases/"
	prunePrefix         = "prune/"
)

// DeletionPrefixes are the prefixes of deletion's objects, each written
// once and kept locked like snapshots.
var DeletionPrefixes = []string{requestsPrefix, cancellationsPrefix, holdsPrefix, releasesPrefix, prunePrefix}

// markKinds are the associated-data kinds of deletion's objects, by prefix.
var markKinds = map[string]string{
	requestsPrefix:      "request",
	cancellationsPrefix: "cancellation",
	holdsPrefix:         "hold",
	releasesPrefix:      "release",
	prunePrefix:         "prune-plan",
}

// Author says who writes a deletion object: the server's source ID (as in
// the audit log) and its host name.
type Author struct{ Source, Host string }

// markBody is the sealed plaintext of every deletion object. Fields a kind
// does not use are left out.
type markBody struct {
	// Snapshots: a request's or hold's snapshots; a cancellation's or
	// release's, within Targets (none: all of the targets' snapshots);
	// a plan's snapshots to remove.
	Snapshots []string `json:"snapshots,omitempty"`
	// Targets: the request keys a cancellation cancels, the hold keys a
	// release releases.
	Targets []string `json:"targets,omitempty"`
	// A plan's packs (32 hex), superseded index keys and key slot keys.
	Packs   []string `json:"packs,omitempty"`
	Indexes []string `json:"indexes,omitempty"`
	Slots   []string `json:"slots,omitempty"`

	Source  string    `json:"source"`
	Host    string    `json:"host,omitempty"`
	Created time.Time `json:"created"` // the writer's clock: informational, decides nothing
	Note    string    `json:"note,omitempty"`
}

// mark is one deletion object read and authenticated.
type mark struct {
	key      string
	uploaded time.Time // the store's upload time of its first version
	body     markBody
}

// DeletionRequest asks for snapshots to be removed. It matures Delay after
// the store received it, unless cancelled; only prune acts on it.
type DeletionRequest struct {
	Key       string    // requests/<32 hex>
	Uploaded  time.Time // the store's upload time: the delay counts from it
	Due       time.Time // Uploaded + the repository's deletion delay
	Created   time.Time // the requester's clock (informational)
	Snapshots []string
	// Cancelled maps each cancelled snapshot to the cancellation's key; a
	// snapshot not in it is still pending.
	Cancelled    map[string]string
	Source, Host string
	Note         string
}

// Hold keeps snapshots from being forgotten or pruned until released.
type Hold struct {
	Key          string
	Uploaded     time.Time
	Created      time.Time
	Snapshots    []string
	Released     map[string]string // snapshot ID → the release's key
	Source, Host string
	Note         string
}

// PrunePlan is what a prune published before deleting anything: after the
// margin, the snapshots, packs, index objects and key slots it names are
// removed, except what a snapshot or a running daemon still needs by
// then. Running daemons stop deduplicating against its packs.
type PrunePlan struct {
	Key       string
	Uploaded  time.Time
	Created   time.Time
	Snapshots []string
	Packs     []PackID
	Indexes   []string
	Slots     []string
	Source    string
	Host      string
	Note      string
}

// Deletions is the state of every deletion object, read at one moment.
type Deletions struct {
	Now      time.Time     // the store's clock when read
	Delay    time.Duration // the repository's deletion delay
	Requests []*DeletionRequest
	Holds    []*Hold
	Plans    []*PrunePlan
}

// Due returns the earliest due date of the uncancelled requests naming
// snapshot id, and whether there is any.
func (d *Deletions) Due(id string) (time.Time, bool) {
	var due time.Time
	for _, r := range d.RequestsFor(id) {
		if due.IsZero() || r.Due.Before(due) {
			due = r.Due
		}
	}
	return due, !due.IsZero()
}

// RequestsFor returns the uncancelled requests naming snapshot id.
func (d *Deletions) RequestsFor(id string) []*DeletionRequest {
	var out []*DeletionRequest
	for _, r := range d.Requests {
		if _, cancelled := r.Cancelled[id]; !cancelled && slices.Contains(r.Snapshots, id) {
			out = append(out, r)
		}
	}
	return out
}

// Held reports whether a hold not released covers snapshot id.
func (d *Deletions) Held(id string) bool {
	for _, h := range d.Holds {
		if _, released := h.Released[id]; !released && slices.Contains(h.Snapshots, id) {
			return true
		}
	}
	return false
}

// Matured reports whether snapshot id may be pruned: an uncancelled
// request for it is due by the store's clock, and no hold covers it.
func (d *Deletions) Matured(id string) bool {
	due, ok := d.Due(id)
	return ok && !due.After(d.Now) && !d.Held(id)
}

// PendingSnapshots lists every snapshot an uncancelled request names,
// held or not, sorted.
func (d *Deletions) PendingSnapshots() []string {
	var out []string
	for _, r := range d.Requests {
		for _, id := range r.Snapshots {
			if _, cancelled := r.Cancelled[id]; !cancelled {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Deletions reads every request, cancellation, hold, release and prune
// plan at its first version, and the store's clock. An object that does
// not authenticate, or a name that is not coffer's, is recorded as damage
// and left out; a cancellation or release naming an object that does not
// exist cancels nothing.
func (r *Repository) Deletions(ctx context.Context) (*Deletions, error) {
	now, err := r.StoreNow(ctx)
	if err != nil {
		return nil, err
	}
	marks := make(map[string][]mark, len(DeletionPrefixes))
	g, gctx := errgroup.WithContext(ctx)
	results := make([][]mark, len(DeletionPrefixes))
	for i, p := range DeletionPrefixes {
		g.Go(func() error {
			ms, err := r.readMarks(gctx, p)
			results[i] = ms
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, p := range DeletionPrefixes {
		marks[p] = results[i]
	}
	d := &Deletions{Now: now, Delay: r.DeletionDelay()}
	requests := map[string]*DeletionRequest{}
	for _, m := range marks[requestsPrefix] {
		req := &DeletionRequest{
			Key: m.key, Uploaded: m.uploaded, Due: m.uploaded.Add(d.Delay), Created: m.body.Created,
			Snapshots: m.body.Snapshots, Cancelled: map[string]string{},
			Source: m.body.Source, Host: m.body.Host, Note: m.body.Note,
		}
		requests[m.key] = req
		d.Requests = append(d.Requests, req)
	}
	for _, m := range marks[cancellationsPrefix] {
		for _, t := range m.body.Targets {
			if req, ok := requests[t]; ok {
				for _, id := range within(req.Snapshots, m.body.Snapshots) {
					req.Cancelled[id] = m.key
				}
			}
		}
	}
	holds := map[string]*Hold{}
	for _, m := range marks[holdsPrefix] {
		h := &Hold{
			Key: m.key, Uploaded: m.uploaded, Created: m.body.Created, Snapshots: m.body.Snapshots,
			Released: map[string]string{}, Source: m.body.Source, Host: m.body.Host, Note: m.body.Note,
		}
		holds[m.key] = h
		d.Holds = append(d.Holds, h)
	}
	for _, m := range marks[releasesPrefix] {
		for _, t := range m.body.Targets {
			if h, ok := holds[t]; ok {
				for _, id := range within(h.Snapshots, m.body.Snapshots) {
					h.Released[id] = m.key
				}
			}
		}
	}
	for _, m := range marks[prunePrefix] {
		p, err := planOf(m)
		if err != nil {
			r.skip(m.key, "prune plan names a pack that is not a pack ID, ignored", err)
			continue
		}
		d.Plans = append(d.Plans, p)
	}
	return d, nil
}

// within returns the members of all that sub names; an empty sub names
// them all.
func within(all, sub []string) []string {
	if len(sub) == 0 {
		return all
	}
	return slices.DeleteFunc(slices.Clone(sub), func(id string) bool { return !slices.Contains(all, id) })
}

func planOf(m mark) (*PrunePlan, error) {
	p := &PrunePlan{
		Key: m.key, Uploaded: m.uploaded, Created: m.body.Created, Snapshots: m.body.Snapshots,
		Indexes: m.body.Indexes, Slots: m.body.Slots, Source: m.body.Source, Host: m.body.Host, Note: m.body.Note,
	}
	for _, s := range m.body.Packs {
		b, ok := parseHexName("", s, 16)
		if !ok {
			return nil, fmt.Errorf("%q: %w", s, ErrCorrupt)
		}
		p.Packs = append(p.Packs, PackID(b))
	}
	return p, nil
}

// PrunePlans reads every prune plan, oldest first.
func (r *Repository) PrunePlans(ctx context.Context) ([]*PrunePlan, error) {
	ms, err := r.readMarks(ctx, prunePrefix)
	if err != nil {
		return nil, err
	}
	var out []*PrunePlan
	for _, m := range ms {
		p, err := planOf(m)
		if err != nil {
			r.skip(m.key, "prune plan names a pack that is not a pack ID, ignored", err)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// readMarks lists prefix at first versions and opens every object under
// it, oldest upload first (ties by key). Objects opened before are not
// read again.
func (r *Repository) readMarks(ctx context.Context, prefix string) ([]mark, error) {
	var listed []objectstore.Info
	err := r.store.List(ctx, prefix, func(i objectstore.Info) error {
		if _, ok := parseHexName(prefix, i.Key, 16); !ok || strings.Contains(strings.TrimPrefix(i.Key, prefix), "/") {
			r.skip(i.Key, "not a coffer "+markKinds[prefix]+" name, ignored", nil)
			return nil
		}
		listed = append(listed, i)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	out := make([]*mark, len(listed))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, info := range listed {
		if m, ok := r.marks.Load(info.Key); ok { // put once: what was read stays true
			out[i] = m.(*mark)
			continue
		}
		g.Go(func() error {
			sealed, err := r.store.Get(gctx, info.Key)
			if isDamage(err) {
				r.skip(info.Key, markKinds[prefix]+" object unreadable, ignored", err)
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", info.Key, err)
			}
			plain, err := r.keys.Metadata().Open(nil, sealed, objectAD(r.id, markKinds[prefix], info.Key))
			var body markBody
			if err == nil {
				err = json.Unmarshal(plain, &body)
			}
			if err != nil {
				r.skip(info.Key, markKinds[prefix]+" object does not authenticate, ignored", err)
				return nil
			}
			out[i] = &mark{key: info.Key, uploaded: info.Modified, body: body}
			r.marks.Store(info.Key, out[i])
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var ms []mark
	for _, m := range out {
		if m != nil {
			ms = append(ms, *m)
		}
	}
	slices.SortStableFunc(ms, func(a, b mark) int {
		if c := a.uploaded.Compare(b.uploaded); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return ms, nil
}

// putMark seals body under a new random name below prefix and writes it
// once, locked with the repository's retention. It returns the key and
// the store's upload time (its clock just after the write).
func (r *Repository) putMark(ctx context.Context, prefix string, a Author, body markBody) (string, time.Time, error) {
	body.Source, body.Host, body.Created = a.Source, a.Host, r.opts.Clock().UTC()
	plain, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, err
	}
	key, err := r.putPatiently(ctx, func() (string, []byte, error) {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		key := prefix + hex.EncodeToString(b[:])
		return key, r.keys.Metadata().Seal(nil, plain, objectAD(r.id, markKinds[prefix], key)), nil
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("write %s: %w", markKinds[prefix], err)
	}
	uploaded := r.storeTime()
	if info, err := r.store.Head(ctx, key); err == nil && !info.Modified.IsZero() {
		uploaded = info.Modified
	}
	return key, uploaded, nil
}

// RequestDeletion writes a request to delete snapshots (IDs). Nothing is
// removed: prune acts on it once the delay has passed, unless cancelled.
// note says why, for people ("coffer forget --keep-daily 7").
func (r *Repository) RequestDeletion(ctx context.Context, a Author, snapshots []string, note string) (*DeletionRequest, error) {
	if len(snapshots) == 0 {
		return nil, fmt.Errorf("a deletion request needs at least one snapshot")
	}
	key, up, err := r.putMark(ctx, requestsPrefix, a, markBody{Snapshots: snapshots, Note: note})
	if err != nil {
		return nil, err
	}
	return &DeletionRequest{
		Key: key, Uploaded: up, Due: up.Add(r.DeletionDelay()), Created: r.opts.Clock().UTC(),
		Snapshots: snapshots, Cancelled: map[string]string{}, Source: a.Source, Host: a.Host, Note: note,
	}, nil
}

// CancelDeletion writes a cancellation of snapshots (all of the request's
// if none) within req. A cancelled request never matures for them;
// asking again starts a new delay.
func (r *Repository) CancelDeletion(ctx context.Context, a Author, req *DeletionRequest, snapshots []string) (string, error) {
	key, _, err := r.putMark(ctx, cancellationsPrefix, a, markBody{Targets: []string{req.Key}, Snapshots: snapshots})
	return key, err
}

// HoldSnapshots writes a hold on snapshots: until released, they cannot
// be forgotten or pruned.
func (r *Repository) HoldSnapshots(ctx context.Context, a Author, snapshots []string, note string) (*Hold, error) {
	if len(snapshots) == 0 {
		return nil, fmt.Errorf("a hold needs at least one snapshot")
	}
	key, up, err := r.putMark(ctx, holdsPrefix, a, markBody{Snapshots: snapshots, Note: note})
	if err != nil {
		return nil, err
	}
	return &Hold{Key: key, Uploaded: up, Created: r.opts.Clock().UTC(), Snapshots: snapshots,
		Released: map[string]string{}, Source: a.Source, Host: a.Host, Note: note}, nil
}

// ReleaseHold writes a release of snapshots (all of the hold's if none)
// within h.
func (r *Repository) ReleaseHold(ctx context.Context, a Author, h *Hold, snapshots []string) (string, error) {
	key, _, err := r.putMark(ctx, releasesPrefix, a, markBody{Targets: []string{h.Key}, Snapshots: snapshots})
	return key, err
}

// PutPrunePlan publishes p and sets its Key and Uploaded: from then on
// running daemons stop relying on its packs, and after the margin prune
// may delete what it names.
func (r *Repository) PutPrunePlan(ctx context.Context, a Author, p *PrunePlan) error {
	body := markBody{Snapshots: p.Snapshots, Indexes: p.Indexes, Slots: p.Slots, Note: p.Note}
	for _, id := range p.Packs {
		body.Packs = append(body.Packs, id.String())
	}
	key, up, err := r.putMark(ctx, prunePrefix, a, body)
	if err != nil {
		return err
	}
	p.Key, p.Uploaded, p.Created, p.Source, p.Host = key, up, r.opts.Clock().UTC(), a.Source, a.Host
	return nil
}

// StoreNow is the store's clock (S3: its Date header). Deletion decides
// by it, never by this machine's clock.
func (r *Repository) StoreNow(ctx context.Context) (time.Time, error) {
	now, err := r.store.Now(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the store's clock: %w", err)
	}
	return now, nil
}
