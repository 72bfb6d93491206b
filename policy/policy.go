package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrOptions: the options do not describe a policy Build can print.
var ErrOptions = errors.New("policy: invalid options")

// Role is whose credentials a policy is for.
type Role string

// The roles Build knows.
const (
	// Server: the machine that mounts and backs up.
	Server Role = "server"
	// Admin: the administrator who prunes what has matured.
	Admin Role = "admin"
	// Restore: a read-only role that lists and reads for restores.
	Restore Role = "restore"
)

// Target is the store whose policy language a policy is written in.
type Target string

// The targets Build knows.
const (
	// AWS: Amazon S3's IAM and bucket policy language.
	AWS Target = "aws"
	// VersityGW: the bucket policies versitygw v1.8.0 accepts.
	VersityGW Target = "versitygw"
)

// Options choose the policy.
type Options struct {
	Bucket string
	// Prefix is the repository's prefix in the bucket, without slashes at
	// either end; empty for a whole bucket.
	Prefix string
	Role   Role
	For    Target
	// Principal is who the policy grants to: for AWS an IAM ARN (then the
	// policy is a bucket policy; empty prints an identity policy to attach
	// to the user or role), for versitygw an access key (required).
	Principal string
	// AllowHTTP leaves out the statement that denies requests not made
	// over TLS (for a versitygw on a loopback address in tests).
	AllowHTTP bool
}

// Document is a policy as S3 reads it.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a policy. Reason says why it is there
// (it is not part of the JSON).
type Statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal *Principal                   `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
	Reason    string                       `json:"-"`
}

// Principal names who a bucket policy's statement applies to.
type Principal struct {
	AWS []string `json:"AWS"`
}

// Build returns the policy for o, or an error wrapping ErrOptions.
func Build(o Options) (Document, error) {
	o.Prefix = strings.Trim(o.Prefix, "/")
	if o.Bucket == "" {
		return Document{}, fmt.Errorf("%w: no bucket", ErrOptions)
	}
	switch o.Role {
	case Server, Admin, Restore:
	default:
		return Document{}, fmt.Errorf("%w: role %q is not server, admin or restore", ErrOptions, o.Role)
	}
	switch o.For {
	case AWS:
	case VersityGW:
		if o.Principal == "" {
			return Document{}, fmt.Errorf("%w: versitygw bucket policies name the access key they grant to (--principal)", ErrOptions)
		}
	default:
		return Document{}, fmt.Errorf("%w: target %q is not aws or versitygw", ErrOptions, o.For)
	}
	b := builder{o: o}
	if o.Principal != "" {
		b.principal = &Principal{AWS: []string{o.Principal}}
	}
	return Document{Version: "2012-10-17", Statement: b.statements()}, nil
}
