package prune

import (
	"coffer/progress"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"coffer/audit"
	"coffer/cipher"
	"coffer/repo"
)

// ErrRefused: the plan removes what needs --force (a host's newest
// snapshot, more than MaxRemove of them); nothing was changed.
var ErrRefused = errors.New("prune refused without --force")

// Options say how Run prunes.
type Options struct {
	// MaxUnused: a partly used pack is repacked when more than this share
	// of its bytes is unused (restic's --max-unused); 0.05 by default.
	MaxUnused float64
	// MaxRemove: without Force, refuse to remove more than this share of
	// all snapshots at once; 0.5 by default.
	MaxRemove float64
	// Force allows removing a host's newest snapshot and more than
	// MaxRemove. The base of a running mount is never removed.
	Force bool
	// DryRun plans and reports, and changes nothing.
	DryRun bool
	// NoWait returns once the new plan is published; the next prune
	// carries it out.
	NoWait bool
	// Author is written into the plan; Log, if set, hears of every plan
	// and removal, and its mount, commit and unmount records say which
	// sessions are open (without it, none is known: only for tests of
	// repositories written without a log).
	Author repo.Author
	Log    *audit.Log
	// Sleep waits d (or until ctx ends) while a plan's margin passes; by
	// default a timer. Tests move their clock instead.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// Bar, if set, starts a progress bar for the deletion of packs (see
	// package progress); nil draws none.
	Bar func(label string, totalBytes, totalObjects int64) *progress.Bar
}

func (o *Options) defaults() {
	if o.MaxUnused == 0 {
		o.MaxUnused = 0.05
	}
	if o.MaxRemove == 0 {
		o.MaxRemove = 0.5
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Report is what one Run did: earlier plans carried out, the new plan,
// and the new plan carried out after the margin (unless NoWait).
type Report struct {
	DryRun   bool      `json:"dry_run"`
	Executed []*Result `json:"executed"`
	Plan     *Plan     `json:"plan"`
	Sessions []Session `json:"sessions,omitempty"` // open, honoured
	// Cutoff: packs uploaded after it are kept for the open sessions.
	Cutoff time.Time     `json:"packs_kept_after,omitzero"`
	Margin time.Duration `json:"margin_ns"`
}

// Run prunes r: it carries out the earlier plans whose margin has passed,
// makes a new plan and publishes it, waits the margin by the store's
// clock and carries it out. Killed at any point, running it again
// completes the work.
func Run(ctx context.Context, r *repo.Repository, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{DryRun: o.DryRun, Executed: []*Result{}, Margin: r.PruneMargin()}
	start := time.Now() // of the state the plan is made on
	st, err := readState(ctx, r, o.Log)
	if err != nil {
		return rep, err
	}
	rep.Sessions, rep.Cutoff = st.sessions, st.cutoff
	if due := st.due(); len(due) > 0 {
		res, err := carryOut(ctx, r, st, due, o)
		if res != nil {
			rep.Executed = append(rep.Executed, res)
		}
		if err != nil {
			return rep, err
		}
		if !o.DryRun {
			start = time.Now()
			if st, err = readState(ctx, r, o.Log); err != nil {
				return rep, err
			}
		}
	}
	pl, need, err := st.plan(ctx, r, o)
	if err != nil {
		return rep, err
	}
	rep.Plan = pl
	if err := pl.lockedNow(ctx, r, st.margin); err != nil {
		return rep, err
	}
	pl.Took = time.Since(start)
	if len(pl.Refused) > 0 && !o.Force {
		if o.DryRun {
			return rep, nil
		}
		return rep, fmt.Errorf("%w: %s; nothing was changed (--force allows it)", ErrRefused, strings.Join(pl.Refused, "; "))
	}
	if o.DryRun || pl.Empty() {
		return rep, nil
	}
	if err := repack(ctx, r, st, pl, need); err != nil {
		return rep, err
	}
	pl.Took = time.Since(start)
	published := pl.published()
	if err := r.PutPrunePlan(ctx, o.Author, published); err != nil {
		return rep, err
	}
	pl.Key, pl.Due = published.Key, published.Uploaded.Add(st.margin)
	record(ctx, o, audit.Record{Kind: audit.KindPrunePlan, Prune: &audit.PruneRun{Plan: pl.Key,
		Snapshots: published.Snapshots, Packs: len(published.Packs), Bytes: pl.Bytes,
		Indexes: len(pl.Indexes), Slots: len(pl.Slots), Locked: len(pl.Locked), Note: published.Note}})
	if o.NoWait {
		return rep, nil
	}
	o.Logger.Info("prune: plan published; waiting for the prune margin before deleting (--no-wait returns here)", "plan", pl.Key, "until", pl.Due)
	if err := waitUntil(ctx, r, pl.Due, o); err != nil {
		return rep, err
	}
	if st, err = readState(ctx, r, o.Log); err != nil {
		return rep, err
	}
	res, err := carryOut(ctx, r, st, st.due(), o)
	if res != nil {
		rep.Executed = append(rep.Executed, res)
	}
	return rep, err
}

// carryOut executes plans and records what it removed.
func carryOut(ctx context.Context, r *repo.Repository, st *state, plans []*repo.PrunePlan, o Options) (*Result, error) {
	res, err := st.execute(ctx, r, plans, o.DryRun, o.Bar)
	if o.DryRun || res == nil || len(res.Plans) == 0 {
		return res, err
	}
	note := ""
	if len(res.Plans) > 1 {
		note = "plans " + strings.Join(res.Plans, " ")
	}
	if err != nil {
		note = strings.TrimSpace(note + " interrupted: " + err.Error())
	}
	record(ctx, o, audit.Record{Kind: audit.KindPrune, Prune: &audit.PruneRun{Plan: res.Plans[0],
		Snapshots: res.Removed, Packs: res.Packs, Bytes: res.Bytes, Indexes: res.Indexes, Slots: res.Slots,
		Locked: len(res.Locked), Note: note}})
	return res, err
}

// repack writes the needed blocks of the packs to repack into new packs,
// durable and indexed, so the plan may name the old ones.
func repack(ctx context.Context, r *repo.Repository, st *state, pl *Plan, need map[cipher.ID]bool) error {
	if len(pl.Repack) == 0 {
		return nil
	}
	from := map[repo.PackID]bool{}
	for _, p := range pl.Repack {
		from[p.pack] = true
	}
	// Blocks are moved off every pack a plan removes, this one's or an
	// earlier's, or a copy left in one of those would be deleted later.
	var away []repo.PackID
	for _, p := range append(slices.Clone(pl.Packs), pl.Repack...) {
		away = append(away, p.pack)
	}
	away = append(away, unionOf(st.del.Plans).packs...)
	var ids []cipher.ID
	for id := range need {
		if slices.ContainsFunc(st.locs[id], func(l repo.BlockLocation) bool { return from[l.Pack] }) {
			ids = append(ids, id)
		}
	}
	moved, err := r.MoveBlocks(ctx, ids, away)
	pl.Moved = moved
	if err != nil {
		return fmt.Errorf("repack: %w", err)
	}
	return nil
}

// waitUntil waits until the store's clock reads t.
func waitUntil(ctx context.Context, r *repo.Repository, t time.Time, o Options) error {
	for {
		now, err := r.StoreNow(ctx)
		if err != nil {
			return err
		}
		if !now.Before(t) {
			return nil
		}
		if err := o.Sleep(ctx, min(t.Sub(now)+time.Millisecond, pollEvery)); err != nil {
			return err
		}
	}
}

// record appends rec to the audit log. The change is made already: a
// failure is logged, not returned.
func record(ctx context.Context, o Options, rec audit.Record) {
	if o.Log == nil {
		return
	}
	if _, err := o.Log.Append(ctx, rec); err != nil {
		o.Logger.Warn("prune: the audit record was not written", "kind", rec.Kind, "err", err)
	}
}
