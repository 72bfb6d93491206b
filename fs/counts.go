package fs

import (
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// RequestCounts counts the FUSE requests a mount answered, by operation
// (as Timed names them: "lookup", "getattr", "write", ...), so that a
// benchmark can say what each file it wrote cost in round trips. Counting
// a request costs a lookup in a sync.Map and an atomic add; a mount
// without counts pays nothing. The zero value is ready to use.
type RequestCounts struct {
	ops sync.Map // op name → *atomic.Uint64
}

// Observe returns an Observer, for Timed, that counts each request and
// then tells next (if not nil). On a nil *RequestCounts it returns next.
func (c *RequestCounts) Observe(next Observer) Observer {
	if c == nil {
		return next
	}
	return func(op string, took time.Duration) {
		c.add(op)
		if next != nil {
			next(op, took)
		}
	}
}

func (c *RequestCounts) add(op string) {
	n, ok := c.ops.Load(op)
	if !ok {
		n, _ = c.ops.LoadOrStore(op, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
}

// Counts returns the number of requests answered so far by operation,
// leaving out operations never asked for.
func (c *RequestCounts) Counts() map[string]uint64 {
	m := make(map[string]uint64)
	c.ops.Range(func(op, n any) bool {
		m[op.(string)] = n.(*atomic.Uint64).Load()
		return true
	})
	return m
}

// WriteFile writes the counts to path as one JSON object {op: count}.
func (c *RequestCounts) WriteFile(path string) error {
	b, err := json.MarshalIndent(c.Counts(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
