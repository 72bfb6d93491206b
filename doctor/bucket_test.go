package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
)

// condPutProber answers the second conditional PUT with a fixed status,
// as stores that honour, ignore or lack If-None-Match do.
type condPutProber struct {
	Prober // only ProbeConditionalPut is called
	second int
	calls  int
}

func (p *condPutProber) ProbeConditionalPut(ctx context.Context, key string, data []byte) (int, string, error) {
	p.calls++
	if p.calls == 1 || p.second == http.StatusOK {
		return http.StatusOK, "v", nil
	}
	err := fmt.Errorf("HTTP %d", p.second)
	if p.second == http.StatusPreconditionFailed {
		err = fmt.Errorf("%w", objectstore.ErrExists)
	}
	return p.second, "", err
}

// TestConditionalPutVerdicts: a 412 holds; a 200 (If-None-Match ignored)
// and a 501 (not implemented) are broken, each saying which.
func TestConditionalPutVerdicts(t *testing.T) {
	for _, c := range []struct {
		status int
		want   Status
		says   string
	}{
		{http.StatusPreconditionFailed, Holds, "refused"},
		{http.StatusOK, Broken, "ignores If-None-Match"},
		{http.StatusNotImplemented, Broken, "does not implement"},
	} {
		d := &run{base: CanaryPrefix + "t/"}
		if err := d.conditionalPut(context.Background(), &condPutProber{second: c.status}); err != nil {
			t.Fatal(err)
		}
		r := d.results[0]
		if r.Status != c.want || !contains(r.Detail, c.says) {
			t.Errorf("second PUT %d: %s (%s), want %s saying %q", c.status, r.Status, r.Detail, c.want, c.says)
		}
	}
}

// TestRefusedVerdicts: only a refusal for permission proves a promise.
func TestRefusedVerdicts(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Status
	}{
		{nil, Broken},
		{fmt.Errorf("s3: %w", objectstore.ErrPermission), Holds},
		{errors.New("connection reset"), Broken},
	} {
		if got := refused("p", c.err, "x").Status; got != c.want {
			t.Errorf("refused(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// retentionProber stores whatever retention it is sent, as a store that
// does not enforce COMPLIANCE would, or refuses every change.
type retentionProber struct {
	Prober // only the retention probes are called
	ret    objectstore.Retention
	weak   bool
}

func (p *retentionProber) ProbeRetention(context.Context, string, string) (objectstore.Retention, error) {
	return p.ret, nil
}

func (p *retentionProber) ProbePutRetention(_ context.Context, _, _ string, ret objectstore.Retention) error {
	if !p.weak {
		return fmt.Errorf("%w: locked", objectstore.ErrPermission)
	}
	p.ret = ret
	return nil
}

// TestComplianceVerdicts: doctor judges by the retention read back, so a
// store that takes a shorter COMPLIANCE date is caught even if it answers
// as a refusing one would.
func TestComplianceVerdicts(t *testing.T) {
	until := time.Date(2026, 12, 1, 12, 2, 0, 0, time.UTC)
	for _, weak := range []bool{false, true} {
		d := &run{}
		p := &retentionProber{ret: objectstore.Retention{Mode: objectstore.Compliance, Until: until}, weak: weak}
		if err := d.compliance(context.Background(), p, true, "doctor/x/compliance", "v1"); err != nil {
			t.Fatal(err)
		}
		want := Holds
		if weak {
			want = Broken
		}
		if r := d.results[0]; r.Status != want || (weak && !strings.Contains(r.Detail, "shortened")) {
			t.Errorf("weak=%v: %s (%s), want %s", weak, r.Status, r.Detail, want)
		}
	}
}
