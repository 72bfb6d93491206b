package check

import (
	"context"
	"fmt"
	"strings"
	"time"

	"coffer/repo"
)

// deletions reads the deletion requests, cancellations, holds, releases
// and prune plans (damaged ones are recorded as damage, reported by step
// damage), and notes the packs the plans remove.
func (c *checker) deletions(ctx context.Context) error {
	d, err := c.r.Deletions(ctx)
	if err != nil {
		return err
	}
	c.del = d
	c.planned = make(map[repo.PackID]string)
	for _, p := range d.Plans {
		for _, id := range p.Packs {
			c.planned[id] = p.Key
		}
	}
	return nil
}

// pending warns of every snapshot a pending request names: a key holder
// can file requests, so they are loud.
func (c *checker) pending(context.Context) error {
	d := c.del
	exists := make(map[string]bool, len(c.snapIDs))
	for _, id := range c.snapIDs {
		exists[id] = true
	}
	for _, id := range d.PendingSnapshots() {
		if !exists[id] {
			continue // pruned already, or never there
		}
		due, _ := d.Due(id)
		var who []string
		for _, req := range d.RequestsFor(id) {
			who = append(who, fmt.Sprintf("%s (host %s, source %s)", req.Key, req.Host, req.Source))
		}
		what := fmt.Sprintf("deletion requested by %s, due %s", strings.Join(who, ", "), due.UTC().Format(time.RFC3339))
		if d.Held(id) {
			what += "; held, so prune keeps it"
		}
		c.rep.warn(Finding{Kind: KindDeletion, Object: "snapshot " + id, What: what,
			Do: "if nobody meant to, cancel it before it is due: coffer forget --cancel " + id})
	}
	return nil
}
