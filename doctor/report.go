package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is a promise's verdict.
type Status string

// The verdicts.
const (
	Holds         Status = "holds"
	Broken        Status = "broken"
	Warning       Status = "warning"        // holds, with a caveat the user must know
	NotApplicable Status = "not applicable" // the store has no such thing
)

// Result is one promise and what the probes found.
type Result struct {
	Promise string `json:"promise"`
	Status  Status `json:"status"`
	Detail  string `json:"detail,omitempty"`
	// Fix says what to do when Status is Broken or Warning.
	Fix string `json:"fix,omitempty"`
	// Items lists what a check found one by one (tampered versions).
	Items []string `json:"items,omitempty"`
}

// Report is the outcome of a doctor run, one Result per promise.
type Report struct {
	Results []Result `json:"results"`
}

// Failed reports whether any promise is broken.
func (r Report) Failed() bool { return len(r.FailedPromises()) > 0 }

// FailedPromises names the promises that are broken, in order.
func (r Report) FailedPromises() []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == Broken {
			out = append(out, res.Promise)
		}
	}
	return out
}

// Find returns the result for promise, and whether there is one.
func (r Report) Find(promise string) (Result, bool) {
	for _, res := range r.Results {
		if res.Promise == promise {
			return res, true
		}
	}
	return Result{}, false
}

// WriteText prints one line per promise ("holds", "BROKEN", ...), with
// the detail, what to do, and the items found indented below it.
func (r Report) WriteText(w io.Writer) error {
	for _, res := range r.Results {
		tag := map[Status]string{Holds: "ok  ", Broken: "FAIL", Warning: "WARN", NotApplicable: "n/a "}[res.Status]
		line := fmt.Sprintf("%s %s: %s", tag, res.Promise, res.Status)
		if res.Detail != "" {
			line += " (" + res.Detail + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, it := range res.Items {
			if _, err := fmt.Fprintln(w, "       "+it); err != nil {
				return err
			}
		}
		if res.Fix != "" && (res.Status == Broken || res.Status == Warning) {
			if _, err := fmt.Fprintln(w, "       what to do: "+res.Fix); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteJSON prints the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
