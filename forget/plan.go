package forget

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"coffer/duration"
	"coffer/repo"
)

// ForgedSkew is how far a snapshot's own time may stray from the store's
// upload time before a plan warns of it. A commit stamps its snapshot
// just before the last upload, so honest snapshots differ by seconds; a
// time minutes away was written by a wrong clock or forged (restic's
// documented attack plants snapshots stamped newer than the real ones).
const ForgedSkew = 5 * time.Minute

// Action is what a plan does with one snapshot.
type Action string

// The actions of a plan.
const (
	Keep    Action = "keep"    // a rule keeps it
	Remove  Action = "remove"  // the request will name it
	Held    Action = "held"    // a hold keeps it, whatever the rules say
	Pending Action = "pending" // an earlier request names it already: not asked again
)

// Row is one snapshot in a plan.
type Row struct {
	Snapshot *repo.Snapshot
	Name     string // as repo.NameSnapshots gives it (the .snapshots directory)
	Action   Action
	Reasons  []string  // why it is kept; for Pending, the request
	Due      time.Time // Pending: when the earliest request naming it matures
	// Skew is Snapshot.Time minus Snapshot.Uploaded when it is larger
	// than ForgedSkew either way; zero otherwise.
	Skew time.Duration
}

// TimeWarning describes a row's skew, or is empty.
func (r Row) TimeWarning() string {
	if r.Skew == 0 {
		return ""
	}
	way := "after"
	d := r.Skew
	if d < 0 {
		way, d = "before", -d
	}
	return fmt.Sprintf("its own time (%s) is %s %s the store received it (%s): a wrong clock or a forged snapshot; judged by the upload time",
		r.Snapshot.Time.UTC().Format(time.RFC3339), duration.Format(d.Round(time.Second)), way, r.Snapshot.Uploaded.UTC().Format(time.RFC3339))
}

// Plan is what one forget will request, and why each snapshot stays.
type Plan struct {
	Rows   []Row    // every snapshot considered, grouped by host, newest first in each
	Remove []string // the IDs the request names, in Rows' order
}

// ErrHeld: forget was told to request a snapshot a hold covers.
var ErrHeld = errors.New("snapshot is held")

// PolicyPlan applies p to the snapshots of each host separately (only
// host's if host is set), as restic groups by host. Snapshots already
// requested are set aside first, so the policy judges the snapshots that
// will remain and asking twice requests nothing new; held snapshots count
// in the rules like any other but are never requested.
func PolicyPlan(all []*repo.Snapshot, d *repo.Deletions, p Policy, host string) *Plan {
	names := nameOf(all)
	groups := map[string][]*repo.Snapshot{}
	var hosts []string
	for _, s := range all {
		if host != "" && s.Host != host {
			continue
		}
		if _, ok := groups[s.Host]; !ok {
			hosts = append(hosts, s.Host)
		}
		groups[s.Host] = append(groups[s.Host], s)
	}
	slices.Sort(hosts)
	plan := &Plan{}
	for _, h := range hosts {
		var judged, pending []*repo.Snapshot
		for _, s := range groups[h] {
			if _, ok := d.Due(s.ID); ok {
				pending = append(pending, s)
			} else {
				judged = append(judged, s)
			}
		}
		var rows []Row
		for _, v := range Apply(judged, p) {
			row := newRow(v.Snapshot, names)
			row.Reasons = v.Reasons
			switch {
			case d.Held(v.Snapshot.ID):
				row.Action = Held
				row.Reasons = append(row.Reasons, "held")
			case v.Keep:
				row.Action = Keep
			default:
				row.Action = Remove
			}
			rows = append(rows, row)
		}
		for _, s := range pending {
			rows = append(rows, pendingRow(s, d, names))
		}
		slices.SortStableFunc(rows, func(a, b Row) int { return newerFirst(a.Snapshot, b.Snapshot) })
		plan.add(rows)
	}
	return plan
}

// ExplicitPlan requests the snapshots named (IDs, resolved already),
// except those an earlier request names. A held one is refused
// (ErrHeld): naming it was a mistake to point out, not to skip quietly.
func ExplicitPlan(all []*repo.Snapshot, d *repo.Deletions, ids []string) (*Plan, error) {
	names := nameOf(all)
	byID := map[string]*repo.Snapshot{}
	for _, s := range all {
		byID[s.ID] = s
	}
	var rows []Row
	seen := map[string]bool{}
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("snapshot %s is not in the listing", id)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if d.Held(id) {
			return nil, fmt.Errorf("%w: %s (%s); 'coffer release %s' first if it may go", ErrHeld, names[id], id[:16], names[id])
		}
		if _, ok := d.Due(id); ok {
			rows = append(rows, pendingRow(s, d, names))
			continue
		}
		row := newRow(s, names)
		row.Action = Remove
		rows = append(rows, row)
	}
	plan := &Plan{}
	plan.add(rows)
	return plan, nil
}

func (p *Plan) add(rows []Row) {
	for _, r := range rows {
		p.Rows = append(p.Rows, r)
		if r.Action == Remove {
			p.Remove = append(p.Remove, r.Snapshot.ID)
		}
	}
}

func nameOf(all []*repo.Snapshot) map[string]string {
	names := repo.NameSnapshots(all)
	out := make(map[string]string, len(all))
	for i, s := range all {
		out[s.ID] = names[i]
	}
	return out
}

func newRow(s *repo.Snapshot, names map[string]string) Row {
	row := Row{Snapshot: s, Name: names[s.ID]}
	if skew := s.Time.Sub(s.Uploaded); !s.Uploaded.IsZero() && (skew > ForgedSkew || skew < -ForgedSkew) {
		row.Skew = skew
	}
	return row
}

func pendingRow(s *repo.Snapshot, d *repo.Deletions, names map[string]string) Row {
	row := newRow(s, names)
	row.Action = Pending
	row.Due, _ = d.Due(s.ID)
	for _, req := range d.RequestsFor(s.ID) {
		row.Reasons = append(row.Reasons, "requested by "+req.Key)
	}
	return row
}
