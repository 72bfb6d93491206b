package policy

import (
	"encoding/json"
	"fmt"
	"io"
)

// JSON returns the document as indented JSON, ready for PutBucketPolicy or
// an IAM policy, with a final newline.
func (d Document) JSON() ([]byte, error) {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Explain writes one line per statement: its Sid, effect and reason.
func (d Document) Explain(w io.Writer) error {
	for _, s := range d.Statement {
		if _, err := fmt.Fprintf(w, "%-28s %-5s %s\n", s.Sid, s.Effect, s.Reason); err != nil {
			return err
		}
	}
	return nil
}
