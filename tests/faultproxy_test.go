package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a loopback HTTP proxy between coffer and an S3 server that
// injects the faults a real network and a real S3 produce: 500s, 503
// SlowDown, connections reset before or after the server applied the
// request, delays, and response bodies cut off midway.
type faultProxy struct {
	URL      string // where coffer connects: http://127.0.0.1:PORT
	upstream *url.URL
	tr       *http.Transport

	mu   sync.Mutex // guards rule and seen
	rule proxyRule
	seen int // requests the rule matched

	faults    atomic.Int64 // requests faulted
	status412 atomic.Int64 // 412 answers the server gave
}

// proxyFault is what the proxy does to a request a rule picks.
type proxyFault int

const (
	passThrough proxyFault = iota
	fail500                // answer 500 InternalError; the server never sees it
	slowDown503            // answer 503 SlowDown; the server never sees it
	resetBefore            // reset the connection; the server never sees it
	resetAfter             // forward, then reset: applied, answer lost
	applied500             // forward, then answer 500: applied, answer lost
	delayed                // wait, then forward
	cutBody                // forward, send half the body, reset
)

// proxyRule picks requests: those of Method (any if empty), every Every-th
// of them (every one if Every <= 1).
type proxyRule struct {
	Fault  proxyFault
	Method string
	Every  int
	Delay  time.Duration
}

// startFaultProxy listens on a loopback port and forwards to upstream,
// faultless until set is called; it stops when the test ends.
func startFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		URL: "http://" + ln.Addr().String(), upstream: u,
		tr: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16, ExpectContinueTimeout: time.Second},
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		p.tr.CloseIdleConnections()
	})
	return p
}

// set replaces the rule, counting afresh.
func (p *faultProxy) set(r proxyRule) {
	p.mu.Lock()
	p.rule, p.seen = r, 0
	p.mu.Unlock()
}

// pick returns the fault for req under the current rule.
func (p *faultProxy) pick(req *http.Request) proxyRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rule
	if r.Fault == passThrough || (r.Method != "" && r.Method != req.Method) {
		return proxyRule{}
	}
	p.seen++
	if r.Every > 1 && p.seen%r.Every != 0 {
		return proxyRule{}
	}
	p.faults.Add(1)
	return r
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r := p.pick(req)
	switch r.Fault {
	case fail500:
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return
	case slowDown503:
		s3Error(w, http.StatusServiceUnavailable, "SlowDown")
		return
	case resetBefore:
		reset(w)
		return
	case delayed:
		time.Sleep(r.Delay)
	}
	resp, err := p.forward(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusPreconditionFailed {
		p.status412.Add(1)
	}
	switch r.Fault {
	case resetAfter:
		_, _ = io.Copy(io.Discard, resp.Body)
		reset(w)
		return
	case applied500:
		_, _ = io.Copy(io.Discard, resp.Body)
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Fault == cutBody && resp.ContentLength > 1 {
		_, _ = io.CopyN(w, resp.Body, resp.ContentLength/2)
		w.(http.Flusher).Flush()
		reset(w)
		return
	}
	_, _ = io.Copy(w, resp.Body)
}

// forward sends req to the upstream server unchanged, Host header (which
// the signature covers) included.
func (p *faultProxy) forward(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	out.RequestURI = ""
	out.Host = req.Host
	if req.ContentLength == 0 {
		out.Body = nil
	}
	return p.tr.RoundTrip(out)
}

// reset drops the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// s3Error answers with an S3 error document.
func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`,
		code, strings.ToLower(code))
}
