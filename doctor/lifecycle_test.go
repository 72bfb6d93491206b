package doctor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"coffer/objectstore"
)

// TestLifecycleVerdicts: rules that delete noncurrent versions sooner than
// the delay are broken, Expiration rules a warning, a provider without
// rules not applicable, and an unreadable configuration a warning.
func TestLifecycleVerdicts(t *testing.T) {
	delay := 14 * 24 * time.Hour
	rule := func(id string, noncurrent, expiration int) objectstore.LifecycleRule {
		return objectstore.LifecycleRule{ID: id, NoncurrentDays: noncurrent, ExpirationDays: expiration}
	}
	for _, c := range []struct {
		name      string
		rules     []objectstore.LifecycleRule
		supported bool
		err       error
		delay     time.Duration
		want      Status
		says      string
	}{
		{"versitygw", nil, false, nil, delay, NotApplicable, "no lifecycle rules"},
		{"no rules", nil, true, nil, delay, Holds, "at least 14 days"},
		{"long enough", []objectstore.LifecycleRule{rule("keep", 14, 0), rule("abort", 0, 0)}, true, nil, delay, Holds, `"keep"`},
		{"one day short", []objectstore.LifecycleRule{rule("short", 13, 0)}, true, nil, delay, Broken, "1 rule(s)"},
		{"short and markers", []objectstore.LifecycleRule{rule("short", 1, 0), rule("exp", 0, 30)}, true, nil, delay, Broken, "sooner"},
		{"markers only", []objectstore.LifecycleRule{rule("exp", 30, 7)}, true, nil, delay, Warning, "delete markers"},
		{"a delay of hours counts as a day", []objectstore.LifecycleRule{rule("one", 1, 0)}, true, nil, 2 * time.Hour, Holds, "1-day"},
		{"denied", nil, false, fmt.Errorf("s3: %w", objectstore.ErrPermission), delay, Warning, "may not read"},
		{"outage", nil, false, fmt.Errorf("s3: %w", objectstore.ErrUnavailable), delay, Warning, "could not be read"},
	} {
		r := lifecycleVerdict(c.rules, c.supported, c.err, c.delay)
		if r.Promise != PromiseLifecycle || r.Status != c.want || !strings.Contains(r.Detail, c.says) {
			t.Errorf("%s: %s (%s), want %s saying %q", c.name, r.Status, r.Detail, c.want, c.says)
		}
		if (r.Status == Broken || r.Status == Warning) && r.Fix == "" {
			t.Errorf("%s: %s without a fix", c.name, r.Status)
		}
	}
	r := lifecycleVerdict([]objectstore.LifecycleRule{rule("short", 3, 0), rule("exp", 0, 5)}, true, nil, delay)
	if len(r.Items) != 2 || !strings.Contains(r.Items[0], `"short"`) || !strings.Contains(r.Items[1], `"exp"`) {
		t.Errorf("items %q, want the short rule then the marker rule", r.Items)
	}
}
