package s3

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// CredentialsError is what a request fails with (wrapped, with the
// operation and key) when the AWS chain yields no usable credentials: no
// keys in the environment, no profile, no instance or container role. The
// SDK reports that only in words; this type lets callers tell it from a
// store that refused or did not answer. Err is the chain's own answer.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "no usable AWS credentials: " + e.Err.Error() }

// Unwrap returns the chain's answer, so a timeout in it still reads as one.
func (e *CredentialsError) Unwrap() error { return e.Err }

// markCredentialErrors wraps p so that its failures are CredentialsErrors.
type markCredentialErrors struct{ p aws.CredentialsProvider }

func (m markCredentialErrors) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.p.Retrieve(ctx)
	if err != nil {
		return c, &CredentialsError{Err: err}
	}
	return c, nil
}
