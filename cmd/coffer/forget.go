package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/duration"
	"coffer/forget"
	"coffer/objectstore"
	"coffer/repo"
)

// forgetOptions are forget's own flags.
type forgetOptions struct {
	policy forget.Policy
	tags   []string
	host   string
	dryRun bool
	asJSON bool
	cancel bool
}

func newForgetCmd() *cobra.Command {
	var f repoFlags
	var o forgetOptions
	c := &cobra.Command{
		Use:   "forget --repo URL (SNAPSHOT... | --keep-* ... | --cancel REQUEST|SNAPSHOT...)",
		Short: "Ask for snapshots to be deleted after the deletion delay, or cancel such a request",
		Long: `Ask for snapshots to be deleted. Nothing is deleted now: forget writes one
deletion request (a sealed, locked object, and an audit record) naming the
snapshots. They stay visible and readable, in .snapshots and in 'coffer
snapshots', until 'coffer prune', run with the administrator's
credentials, removes them once the repository's deletion delay (14 days
unless init was told otherwise) has passed since the store received the
request. Until then any request can be cancelled with --cancel.

Name the snapshots (as 'coffer snapshots' lists them: name, time, ID or ID
prefix), or give a policy with restic's flags; a policy keeps a snapshot if
any rule keeps it, and requests the rest:
  --keep-last N      the newest N
  --keep-hourly N    the newest of each of the last N hours that have one
  --keep-daily N     ... days (UTC)
  --keep-weekly N    ... ISO weeks
  --keep-monthly N   ... months
  --keep-yearly N    ... years
  --keep-within D    every snapshot uploaded within D of the host's newest
  --keep-tag T[,T]   every snapshot carrying all these tags (repeatable)
Each host's snapshots are judged apart (--host H: only H's).

Snapshots are judged by the store's upload time of each snapshot object,
not the time written inside it, and --dry-run warns of snapshots whose two
times disagree. Still, whoever holds the key and write access can plant
snapshots, and a policy that only counts (--keep-last) would then keep the
planted ones: add --keep-within (say 30d) so every real snapshot of that
period stays, whatever else was added.

Held snapshots ('coffer hold') are never requested; naming one is refused
(exit 2). Snapshots an earlier request names are not requested again, and
a policy judges the snapshots that remain without them.

--cancel REQUEST|SNAPSHOT...: a request's key ('coffer requests' lists
them; a unique prefix will do) cancels all of it; a snapshot cancels it in
every request naming it. A cancelled request never matures; forgetting the
snapshot again starts a new delay.`,
		Example: `  coffer forget --keep-daily 7 --keep-weekly 5 --keep-within 30d --dry-run
  coffer forget 2026-11-02T03-00-00Z
  coffer forget --cancel 3f2a9c`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.policy.Tags = nil
			for _, t := range o.tags {
				o.policy.Tags = append(o.policy.Tags, strings.Split(t, ","))
			}
			if err := o.check(args); err != nil {
				return usageError{err}
			}
			return f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
				if o.cancel {
					return o.runCancel(cmd, &f, r, args)
				}
				return o.run(cmd, &f, r, args)
			})(cmd, args)
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.IntVar(&o.policy.Last, "keep-last", 0, "keep the newest N snapshots")
	fl.IntVar(&o.policy.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours")
	fl.IntVar(&o.policy.Daily, "keep-daily", 0, "keep the newest snapshot of each of the last N days (UTC)")
	fl.IntVar(&o.policy.Weekly, "keep-weekly", 0, "keep the newest snapshot of each of the last N ISO weeks")
	fl.IntVar(&o.policy.Monthly, "keep-monthly", 0, "keep the newest snapshot of each of the last N months")
	fl.IntVar(&o.policy.Yearly, "keep-yearly", 0, "keep the newest snapshot of each of the last N years")
	fl.Var(duration.Value{D: &o.policy.Within}, "keep-within", "keep every snapshot uploaded within this of the host's newest (e.g. 30d); recommended with any count")
	fl.StringArrayVar(&o.tags, "keep-tag", nil, "keep snapshots carrying all of these comma-separated tags (repeatable: any of the lists)")
	fl.StringVar(&o.host, "host", "", "apply the policy to this host's snapshots only")
	fl.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would be requested and why each snapshot stays; write nothing")
	fl.BoolVar(&o.asJSON, "json", false, "print JSON")
	fl.BoolVar(&o.cancel, "cancel", false, "cancel the requests or snapshots named instead")
	return c
}

// check refuses the combinations forget cannot make sense of, before the
// repository is opened.
func (o *forgetOptions) check(args []string) error {
	if err := o.policy.Check(); err != nil {
		return err
	}
	hasPolicy := !o.policy.Empty()
	switch {
	case o.cancel && (hasPolicy || o.host != ""):
		return errors.New("--cancel takes requests or snapshots, not a policy")
	case o.cancel && o.dryRun:
		return errors.New("--cancel has no --dry-run: 'coffer requests' shows what it would cancel")
	case o.cancel && len(args) == 0:
		return errors.New("--cancel needs a request or snapshot ('coffer requests' lists them)")
	case o.cancel:
		return nil
	case hasPolicy && len(args) > 0:
		return errors.New("give snapshots or a policy (--keep-*), not both")
	case !hasPolicy && len(args) == 0:
		return errors.New("no snapshots and no policy: name snapshots, or give --keep-last, --keep-daily, --keep-within ... (a policy keeps everything it names and requests the rest)")
	case o.host != "" && len(args) > 0:
		return errors.New("--host selects snapshots for a policy; named snapshots need no --host")
	}
	return nil
}

// forgetJSON is `coffer forget --json`.
type forgetJSON struct {
	DryRun    bool            `json:"dry_run"`
	Policy    string          `json:"policy,omitempty"`
	Snapshots []forgetRowJSON `json:"snapshots"`
	Request   *requestSummary `json:"request"` // null: nothing requested
	Delay     string          `json:"delay"`
	Warnings  []string        `json:"warnings,omitempty"`

	rows []forget.Row
	req  *repo.DeletionRequest
}

type forgetRowJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Uploaded    time.Time `json:"uploaded"`
	Time        time.Time `json:"time"`
	Host        string    `json:"host"`
	Tags        []string  `json:"tags"`
	Action      string    `json:"action"`
	Reasons     []string  `json:"reasons"`
	Due         time.Time `json:"due,omitzero"`
	TimeWarning string    `json:"time_warning,omitempty"`
}

type requestSummary struct {
	Key       string    `json:"key"`
	Uploaded  time.Time `json:"uploaded"`
	Due       time.Time `json:"due"`
	Snapshots []string  `json:"snapshots"`
}

func (o *forgetOptions) run(cmd *cobra.Command, f *repoFlags, r *repo.Repository, args []string) error {
	ctx := cmd.Context()
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return err
	}
	warn(cmd.ErrOrStderr(), r, snaps)
	d, err := r.Deletions(ctx)
	if err != nil {
		return err
	}
	plan, note, err := o.plan(cmd.Context(), r, snaps, d, args)
	if err != nil {
		return err
	}
	out := forgetJSON{DryRun: o.dryRun, Delay: duration.Format(r.DeletionDelay()), rows: plan.Rows,
		Warnings: o.warnings(plan, len(args) > 0)}
	if len(args) == 0 {
		out.Policy = o.policy.String()
	}
	if !o.dryRun && len(plan.Remove) > 0 {
		req, err := r.RequestDeletion(ctx, f.author(), plan.Remove, note)
		if err != nil {
			return err
		}
		out.req = req
		out.Request = &requestSummary{Key: req.Key, Uploaded: req.Uploaded, Due: req.Due, Snapshots: req.Snapshots}
		f.recordDeletion(cmd, r, audit.KindForget, audit.DeletionChange{Object: req.Key, Snapshots: req.Snapshots, Due: req.Due})
	}
	if o.asJSON {
		return out.write(cmd.OutOrStdout())
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: %s\n", w)
	}
	if err := printPlan(cmd.OutOrStdout(), plan); err != nil {
		return err
	}
	o.printOutcome(cmd.OutOrStdout(), plan, out.req, r.DeletionDelay())
	return nil
}

// plan decides what to request: the snapshots args name, or what the
// policy removes. note is the request's note, the command line.
func (o *forgetOptions) plan(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, d *repo.Deletions, args []string) (*forget.Plan, string, error) {
	if len(args) > 0 {
		ids, err := resolveSnapshots(ctx, r, args)
		if err != nil {
			return nil, "", err
		}
		plan, err := forget.ExplicitPlan(snaps, d, ids)
		if errors.Is(err, forget.ErrHeld) {
			return nil, "", usageError{err}
		}
		return plan, "coffer forget " + strings.Join(args, " "), err
	}
	note := "coffer forget " + o.policy.String()
	if o.host != "" {
		if !hasHost(snaps, o.host) {
			return nil, "", fmt.Errorf("--host %s: snapshot of that host: %w (coffer snapshots lists the hosts)", o.host, objectstore.ErrNotFound)
		}
		note += " --host " + o.host
	}
	return forget.PolicyPlan(snaps, d, o.policy, o.host), note, nil
}

// warnings names each snapshot whose own time strays from its upload
// time, and, for a policy without --keep-within, says what to add.
func (o *forgetOptions) warnings(plan *forget.Plan, named bool) []string {
	var out []string
	for _, row := range plan.Rows {
		if w := row.TimeWarning(); w != "" {
			out = append(out, row.Name+": "+w)
		}
	}
	if len(out) > 0 && o.policy.Within == 0 && !named {
		out = append(out, "some snapshots' own times disagree with their upload times: add --keep-within (e.g. 30d) so a count cannot be turned against real snapshots")
	}
	return out
}

// printOutcome says what was requested (req nil: nothing, or a dry run).
func (o *forgetOptions) printOutcome(w io.Writer, plan *forget.Plan, req *repo.DeletionRequest, delay time.Duration) {
	switch {
	case len(plan.Remove) == 0:
		fmt.Fprintln(w, "nothing to request: every snapshot is kept, held or requested already")
	case req == nil:
		fmt.Fprintf(w, "would request the deletion of %s (dry run: nothing written); prune could act %s after the request\n",
			count(len(plan.Remove), "snapshot"), duration.Format(delay))
	default:
		fmt.Fprintf(w, "requested the deletion of %s: %s\n", count(len(req.Snapshots), "snapshot"), req.Key)
		fmt.Fprintf(w, "nothing is deleted now; prune acts after %s (the store's clock, %s after it received the request)\n",
			req.Due.UTC().Format(time.RFC3339), duration.Format(delay))
		fmt.Fprintf(w, "to cancel: coffer forget --cancel %s\n", shortKey(req.Key))
	}
}

func (out *forgetJSON) write(w io.Writer) error {
	out.Snapshots = make([]forgetRowJSON, 0, len(out.rows))
	for _, row := range out.rows {
		s := row.Snapshot
		tags := s.Tags
		if tags == nil {
			tags = []string{}
		}
		reasons := row.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		out.Snapshots = append(out.Snapshots, forgetRowJSON{ID: s.ID, Name: row.Name, Uploaded: s.Uploaded.UTC(),
			Time: s.Time.UTC(), Host: s.Host, Tags: tags, Action: string(row.Action), Reasons: reasons,
			Due: row.Due.UTC(), TimeWarning: row.TimeWarning()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printPlan prints restic's table: each snapshot, what is done with it
// and the rules that keep it, newest first, per host; then a count of
// each action.
func printPlan(w io.Writer, plan *forget.Plan) error {
	defer func() {
		n := map[forget.Action]int{}
		for _, row := range plan.Rows {
			n[row.Action]++
		}
		fmt.Fprintf(w, "%s: %d keep, %d remove, %d held, %d requested already\n", count(len(plan.Rows), "snapshot"),
			n[forget.Keep], n[forget.Remove], n[forget.Held], n[forget.Pending])
	}()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tUPLOADED (UTC)\tHOST\tTAGS\tACTION\tREASONS")
	for _, row := range plan.Rows {
		s := row.Snapshot
		reasons := strings.Join(row.Reasons, ", ")
		if row.Action == forget.Pending {
			reasons = "requested already, due " + row.Due.UTC().Format(listTime)
		}
		flag := ""
		if row.Skew != 0 {
			flag = " (time differs!)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%s\t%s\t%s\n", s.ID[:min(8, len(s.ID))], row.Name,
			s.Uploaded.UTC().Format(listTime), flag, s.Host, strings.Join(s.Tags, ","), row.Action, reasons)
	}
	return tw.Flush()
}

// count is "1 snapshot", "2 snapshots".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// listTime is how deletion's listings print a time (UTC).
const listTime = "2006-01-02 15:04:05"

// shortKey is a request's or hold's key without its prefix, cut to 12
// hex digits: unique in any real repository, and accepted as a prefix.
func shortKey(key string) string {
	_, hex, _ := strings.Cut(key, "/")
	return hex[:min(12, len(hex))]
}

func hasHost(snaps []*repo.Snapshot, host string) bool {
	for _, s := range snaps {
		if s.Host == host {
			return true
		}
	}
	return false
}

// usageIfAmbiguous makes an ambiguous snapshot reference a usage error:
// the command line must name one.
func usageIfAmbiguous(err error) error {
	if errors.Is(err, repo.ErrAmbiguous) {
		return usageError{err}
	}
	return err
}

// recordDeletion writes the audit record of a deletion object written
// already (a request, cancellation, hold or release): a failure is a
// warning, since the object itself is what counts.
func (f *repoFlags) recordDeletion(cmd *cobra.Command, r *repo.Repository, kind string, change audit.DeletionChange) {
	log := f.logger()
	if _, err := f.auditLog(r, nil, log).Append(cmd.Context(), audit.Record{Kind: kind, Deletion: &change}); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "coffer: warning: %s is written, its audit record was not: %v\n", change.Object, err)
	}
}

// author is who this server writes deletion objects as: its source ID
// and host name, as in its audit records.
func (f *repoFlags) author() repo.Author {
	host, _ := os.Hostname()
	return repo.Author{Source: f.sourceID(nil, f.logger()), Host: host}
}
