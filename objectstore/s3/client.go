package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Network timeouts for one attempt. With the default five attempts and a
// two-second backoff cap they bound an unreachable endpoint to roughly
// half a minute.
const (
	dialTimeout      = 4 * time.Second
	handshakeTimeout = 5 * time.Second
	maxBackoff       = 2 * time.Second
)

// newClient builds an S3 client for an already validated and defaulted
// config: credentials and region from the AWS chain, TLS with the extra
// CA bundle, bounded retries and per-attempt timeouts.
func newClient(ctx context.Context, c Config) (*awss3.Client, error) {
	httpClient, err := newHTTPClient(c)
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.MaxAttempts
				o.MaxBackoff = maxBackoff
				// The client-side retry quota would turn a burst of server
				// errors into immediate failures; the attempt bound suffices.
				o.RateLimiter = ratelimit.None
			})
		}),
		// coffer sends its own SHA-256 checksums and verifies reads itself,
		// so the SDK's default CRC32 is neither added nor checked.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(c.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = aws.NewCredentialsCache(markCredentialErrors{awsCfg.Credentials})
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		o.UsePathStyle = c.PathStyle
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return client, nil
}

// newHTTPClient returns the transport every request uses: TLS 1.2 or
// later, the system roots plus c.CABundle, and bounded dial, handshake and
// response-header waits.
func newHTTPClient(c Config) (*awshttp.BuildableClient, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CABundle != "" {
		pool, err := loadCABundle(c.CABundle)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	hc := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = dialTimeout
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = tlsConf
			tr.TLSHandshakeTimeout = handshakeTimeout
			tr.ResponseHeaderTimeout = c.AttemptTimeout
		})
	return hc, nil
}

// loadCABundle returns the system's roots plus every certificate in the
// PEM file at path. A file with no certificate is an error, so a wrong path
// or format never silently falls back to the system roots alone.
func loadCABundle(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: CA bundle: %v", ErrConfig, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA bundle %s holds no PEM certificate", ErrConfig, path)
	}
	return pool, nil
}
