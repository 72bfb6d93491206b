package check

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"coffer/audit"
	"coffer/cipher"
	"coffer/repo"
)

// Progress hears how read-data goes; the CLI passes a progress bar.
type Progress interface {
	Add(packs, bytes int64)
	Done()
}

// Options say what Run checks. The zero value checks everything but the
// packs' contents.
type Options struct {
	// ReadData reads every pack (or Subset of them) whole and verifies
	// each block: it opens under the key and its keyed MAC is its ID.
	ReadData bool
	// Subset narrows ReadData to some packs; the zero value is all.
	Subset Subset
	// Parallel is how many packs ReadData reads at once; default 4. Its
	// memory is about that many packs.
	Parallel int
	// SkipAudit leaves out the audit chain: for repositories written
	// through package repo alone (unit tests), which have no log.
	SkipAudit bool
	// Progress, if set, is called once before ReadData starts with the
	// packs and bytes it will read, and what it returns hears of each
	// pack read.
	Progress func(packs, bytes int64) Progress
}

// Run checks r, reading only (but see repo.Open, which stores an index
// it had to rebuild from pack trailers). Every problem found is in the
// report; err is only a store that failed (or ctx), and the report then
// holds what was found before.
func Run(ctx context.Context, r *repo.Repository, o Options) (*Report, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	c := &checker{r: r, o: o, rep: &Report{Errors: []Finding{}, Warnings: []Finding{}}}
	steps := []func(context.Context) error{
		c.config, c.keySlots, c.deletions, c.packs, c.snapshots, c.pending, c.unused, c.audit, c.duplicates, c.readData, c.tampering, c.damage,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return c.rep, err
		}
	}
	return c.rep, nil
}

// checker holds what one Run has learnt so far.
type checker struct {
	r   *repo.Repository
	o   Options
	rep *Report

	packList []repo.PackInfo
	byPack   map[repo.PackID][]repo.BlockLocation // the indexed blocks of each listed pack
	located  map[cipher.ID]bool                   // blocks with at least one location in a listed pack, long enough
	used     map[cipher.ID]bool                   // blocks a snapshot references (trees, file blocks, link tables)
	snapIDs  []string
	del      *repo.Deletions
	planned  map[repo.PackID]string // packs a prune plan removes -> the plan's key
}

func (c *checker) config(ctx context.Context) error {
	err := c.r.CheckConfig(ctx)
	if err != nil && !repo.IsDamage(err) {
		return err
	}
	if err != nil {
		c.rep.fail(Finding{Kind: KindConfig, Object: "config", What: err.Error(),
			Do: "the config was readable at open and is not now: look for tampering (coffer doctor)"})
	}
	return nil
}

func (c *checker) keySlots(ctx context.Context) error {
	slots, damaged, notes, err := c.r.CheckSlots(ctx)
	if err != nil {
		return err
	}
	for _, d := range damaged {
		c.rep.fail(Finding{Kind: KindKeySlot, Object: d.Key, What: d.Reason,
			Do: "it opens nothing; if it was a slot you use, add a new one with coffer key add from a slot that works"})
	}
	for _, d := range notes {
		c.rep.warn(Finding{Kind: KindKeySlot, Object: d.Key, What: d.Reason,
			Do: "a revocation someone holding the key wrote; see coffer key list and coffer audit"})
	}
	usable := slices.ContainsFunc(slots, func(s repo.SlotInfo) bool { return !s.Revoked })
	if !usable {
		c.rep.fail(Finding{Kind: KindKeySlot, Object: "keys/", What: "every key slot is revoked",
			Do: "open with --ignore-revocations and add a new slot with coffer key add"})
	}
	return nil
}

func (c *checker) audit(ctx context.Context) error {
	if c.o.SkipAudit {
		return nil
	}
	log := c.r.AuditLog("", "", "")
	rep, err := log.Verify(ctx, c.snapIDs)
	if err != nil && !errors.Is(err, audit.ErrBroken) {
		return err
	}
	c.rep.AuditRecords = len(audit.Records(rep.Entries))
	if err != nil {
		c.rep.fail(Finding{Kind: KindAudit, Object: "audit/", What: err.Error(),
			Do: "the log no longer proves what happened to the repository: find out who (coffer audit lists what is left)"})
	}
	for _, p := range rep.Planted {
		c.rep.warn(Finding{Kind: KindAudit, Object: "audit/", What: "planted: " + p,
			Do: "someone with write access to the store put it there; writers step over it"})
	}
	// rep.Tampered is also in the repository's tampering (step tampering).
	return nil
}

// duplicates reads every location of the blocks stored more than once,
// which is where a forged copy would be; bad ones are reported with the
// rest of the bad locations (step damage).
func (c *checker) duplicates(ctx context.Context) error {
	_, err := c.r.CheckDuplicates(ctx)
	return err
}

func (c *checker) tampering(ctx context.Context) error {
	var prefixes []string // data/ was listed already, by step packs
	for _, p := range append(slices.Clone(repo.TamperPrefixes), repo.DeletionPrefixes...) {
		if p != repo.PackPrefix && !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	found, err := c.r.ScanTampering(ctx, prefixes...)
	if err != nil {
		return err
	}
	for _, t := range found {
		c.rep.warn(Finding{Kind: KindTamper, Object: t.Key,
			What: fmt.Sprintf("%s %s uploaded %s, not written by coffer; ignored (the first version is read)", t.Kind, t.VersionID, t.Modified.UTC().Format("2006-01-02 15:04:05Z")),
			Do:   "someone with write access to the store put it there: rotate the server's credentials and check them with coffer doctor"})
	}
	return nil
}

// damage reports what the repository skipped as damaged or foreign since
// it was opened, and every block location a read found bad.
func (c *checker) damage(ctx context.Context) error {
	for _, d := range c.r.Damage() {
		c.rep.fail(Finding{Kind: KindDamage, Object: d.Key, What: d.Reason,
			Do: "coffer reads around it; find out how it came there (coffer audit, coffer doctor)"})
	}
	for _, b := range c.r.BadLocations() {
		do := "the block is read from another location if there is one; a file that needs it is an I/O error otherwise"
		if b.Forged {
			do = "TAMPERING by a holder of the key: rotate the key (coffer key add, coffer key remove) and find the source (coffer audit)"
		}
		c.rep.fail(Finding{Kind: KindBadBlock, Object: fmt.Sprintf("%s+%d", b.Pack.Key(), b.Off), What: b.String(), Do: do})
	}
	return nil
}
