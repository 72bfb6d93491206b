package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// DefaultMultipartThreshold is the object size above which Put uploads in
// parts when Config.MultipartThreshold is zero.
const DefaultMultipartThreshold = 64 << 20

// minPartSize is the smallest part S3 accepts for any part but the last.
const minPartSize = 5 << 20

// ErrConfig marks a configuration the backend refuses to use.
// ErrConfig: the S3 settings are unusable (a plain-HTTP endpoint without the
// insecure option, a missing bucket name, an unreadable CA bundle).
var ErrConfig = errors.New("s3: invalid configuration")

// Config says which bucket to use, where it is and how to reach it.
// Credentials come from the standard AWS chain (environment, shared config
// and credentials files, profiles) unless Credentials is set.
type Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Prefix is prepended to every key, so several stores can share a
	// bucket. A non-empty prefix is treated as a directory: "host1" and
	// "host1/" both store key "k" as "host1/k".
	Prefix string
	// Endpoint is the service URL (https://host[:port]). Empty means the
	// AWS_ENDPOINT_URL_S3 environment variable, then AWS_ENDPOINT_URL, then
	// AWS itself.
	Endpoint string
	// Region is the signing region. Empty means the AWS chain's region, or
	// us-east-1 if it has none.
	Region string
	// Profile selects a named profile of the shared AWS config files;
	// empty means the chain's default (AWS_PROFILE, then "default").
	Profile string
	// Credentials, when set, replaces the AWS chain's credentials, for
	// callers that hold keys themselves (tests, separate admin keys).
	Credentials aws.CredentialsProvider
	// InsecureHTTP allows an http:// endpoint, and only on a loopback host
	// (127.0.0.0/8, ::1, localhost). It exists for local test servers.
	InsecureHTTP bool
	// CABundle is the path of a PEM file whose certificates are trusted in
	// addition to the system's roots.
	CABundle string
	// PathStyle addresses the bucket as https://host/bucket/key instead of
	// https://bucket.host/key.
	PathStyle bool
	// MultipartThreshold is the size above which Put uploads in parts;
	// zero means DefaultMultipartThreshold.
	MultipartThreshold int64
	// PartSize is the size of each part of a multipart upload; zero means
	// the threshold itself. It is raised to S3's 5 MiB minimum if smaller.
	PartSize int64
	// MaxAttempts bounds how often one request is tried; zero means 5.
	MaxAttempts int
	// AttemptTimeout bounds how long one attempt may wait for a response's
	// headers; zero means 10 seconds.
	AttemptTimeout time.Duration
	// Clock tells the time used to judge whether a refused Delete was
	// refused because of retention; nil means time.Now.
	Clock func() time.Time
	// Logger receives retries and other operational events; nil discards.
	Logger *slog.Logger
}

// withDefaults returns c with zero fields filled in.
func (c Config) withDefaults() Config {
	// The SDK would read these itself; reading them here means they pass
	// the same HTTPS check as an explicit endpoint.
	if c.Endpoint == "" {
		c.Endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if c.Endpoint == "" {
		c.Endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	if c.MultipartThreshold <= 0 {
		c.MultipartThreshold = DefaultMultipartThreshold
	}
	if c.PartSize <= 0 {
		c.PartSize = c.MultipartThreshold
	}
	if c.PartSize < minPartSize {
		c.PartSize = minPartSize
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 10 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	return c
}

// validate refuses configurations that would break coffer's promises, most
// importantly a plain-HTTP endpoint anywhere but on this machine.
func (c Config) validate() error {
	if c.Bucket == "" {
		return fmt.Errorf("%w: no bucket named", ErrConfig)
	}
	if strings.HasPrefix(c.Prefix, "/") {
		return fmt.Errorf("%w: prefix %q must not start with '/'", ErrConfig, c.Prefix)
	}
	return checkEndpoint(c.Endpoint, c.InsecureHTTP)
}

// checkEndpoint accepts an empty endpoint (AWS itself), any https:// URL,
// and an http:// URL only when insecure is set and the host is loopback.
func checkEndpoint(endpoint string, insecure bool) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%w: endpoint %q: %v", ErrConfig, endpoint, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: endpoint %q has no host", ErrConfig, endpoint)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !insecure {
			return fmt.Errorf("%w: endpoint %q is plain HTTP; coffer requires HTTPS "+
				"(plain HTTP is allowed only to a loopback test server with the insecure-HTTP option)",
				ErrConfig, endpoint)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%w: endpoint %q is plain HTTP to a host that is not loopback; "+
				"plain HTTP is never allowed off this machine", ErrConfig, endpoint)
		}
		return nil
	default:
		return fmt.Errorf("%w: endpoint %q: scheme must be https", ErrConfig, endpoint)
	}
}

// isLoopback reports whether host names this machine: "localhost", an
// address in 127.0.0.0/8, or ::1. Other names are not resolved, so DNS
// cannot turn a remote host into a "loopback" one.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
