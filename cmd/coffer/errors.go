package main

import (
	"errors"
	"strings"

	"coffer/cipher"
	"coffer/objectstore"
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

func isUnreachable(err error) bool {
	return errors.Is(err, objectstore.ErrUnavailable) || errors.Is(err, objectstore.ErrPermission)
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
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	switch {
	case errors.Is(err, repo.ErrWrongKey):
		return msg + " (check --password-file/--key-file, COFFER_PASSWORD_FILE, COFFER_PASSWORD or COFFER_KEY_FILE)"
	case errors.Is(err, cipher.ErrKeyFilePerm):
		return msg + " (run: chmod 600 on the key file)"
	case errors.Is(err, repo.ErrNotRepository):
		return msg + " (create one with: coffer init --repo URL)"
	case errors.Is(err, repo.ErrNotEmpty):
		return msg + "; refusing to init over it (choose an empty directory or prefix)"
	case errors.Is(err, objectstore.ErrNoBucket):
		return msg + " (check the bucket name or directory in --repo)"
	case errors.Is(err, objectstore.ErrUnavailable):
		return msg + " (check --endpoint, the network and the credentials)"
	case errors.Is(err, objectstore.ErrPermission):
		return msg + " (the credentials in use may not do this)"
	}
	return msg
}
