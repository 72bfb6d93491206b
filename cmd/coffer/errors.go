package main

import (
	"crypto/tls"
	"errors"
	"net/url"
	"strings"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/s3"
	"coffer/repo"
)

// errNotMounted: no coffer daemon serves that mountpoint.
var errNotMounted = errors.New("not a coffer mount")

func isWrongKey(err error) bool {
	return errors.Is(err, repo.ErrWrongKey) || errors.Is(err, cipher.ErrKeyFilePerm)
}

func isNoRepo(err error) bool {
	return errors.Is(err, repo.ErrNotRepository) || errors.Is(err, objectstore.ErrNoBucket) ||
		errors.Is(err, objectstore.ErrNotFound) || errors.Is(err, errNotMounted)
}

// isUnreachable: the store could not be asked (down, an untrusted TLS
// certificate, no credentials to sign with) or refused the request. Missing
// credentials share the code of refused ones, so a script that handles
// "cannot get to the store" needs one code for both.
func isUnreachable(err error) bool {
	var certErr *tls.CertificateVerificationError
	var credErr *s3.CredentialsError
	return errors.Is(err, objectstore.ErrUnavailable) || errors.Is(err, objectstore.ErrPermission) ||
		errors.As(err, &certErr) || errors.As(err, &credErr)
}

// isRefusedUnsafe: a well-formed request refused because it is unsafe
// without --force. It is a usage error: the command line must change.
func isRefusedUnsafe(err error) bool {
	return errors.Is(err, repo.ErrSlotInUse) || errors.Is(err, repo.ErrLastSlot)
}

// isUnkeepable: init asked for a retention the bucket cannot keep. It is a
// usage error: the bucket or the --retention-days flag must change.
func isUnkeepable(err error) bool {
	return errors.Is(err, repo.ErrNoObjectLock) || errors.Is(err, repo.ErrUnsafeDeletion)
}

func isExists(err error) bool {
	return errors.Is(err, repo.ErrNotEmpty)
}

// describe renders err as one line with a hint on what to do next.
func describe(err error) string {
	var remote remoteError
	if errors.As(err, &remote) {
		return remote.msg // described by the daemon already
	}
	var certErr *tls.CertificateVerificationError
	var credErr *s3.CredentialsError
	switch {
	case errors.As(err, &certErr):
		// The SDK's wrapping (attempts, request IDs) says nothing more.
		where := ""
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			if u, perr := url.Parse(urlErr.URL); perr == nil {
				where = " of " + u.Host
			}
		}
		return "TLS certificate" + where + " not trusted: " + certErr.Error() +
			" (if the endpoint uses a private CA, pass its certificate with --ca-bundle FILE)"
	case errors.As(err, &credErr):
		return "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE for a profile in ~/.aws" +
			" (the AWS chain said: " + oneLine(credErr.Err.Error()) + ")"
	}
	msg := oneLine(err.Error())
	switch {
	case errors.Is(err, repo.ErrRevoked):
		return msg + " (use another passphrase or key file; if revocations you did not write revoked your slots, pass --ignore-revocations)"
	case errors.Is(err, repo.ErrWrongKey):
		return msg + " (check --password-file/--key-file, COFFER_PASSWORD_FILE, COFFER_PASSWORD or COFFER_KEY_FILE)"
	case errors.Is(err, cipher.ErrKeyFilePerm):
		return msg + " (run: chmod 600 on the key file)"
	case errors.Is(err, repo.ErrNotRepository):
		return msg + " (create one with: coffer init --repo URL)"
	case errors.Is(err, repo.ErrNotEmpty):
		return msg + "; refusing to init over it (choose an empty directory or prefix)"
	case errors.Is(err, repo.ErrNoObjectLock):
		return msg + ": create a bucket with object lock enabled (S3 allows it only at creation), or pass --retention-days 0 to store without retention"
	case errors.Is(err, repo.ErrLastSlot):
		return msg + ": without it nobody could open the repository again (add one first with coffer key add, or pass --force)"
	case errors.Is(err, repo.ErrSlotInUse):
		return msg + ": it opened the repository for this command (open it with another passphrase or key file, or pass --force)"
	case errors.Is(err, objectstore.ErrNoBucket):
		return msg + " (check the bucket name or directory in --repo)"
	case errors.Is(err, objectstore.ErrUnavailable):
		return msg + " (check --endpoint, the network and the credentials)"
	case errors.Is(err, objectstore.ErrPermission):
		return msg + " (the credentials in use may not do this)"
	}
	return msg
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
