package objectstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sentinel errors every backend returns (wrapped with context) so callers
// can test them with errors.Is. Backends translate their native errors into
// these in exactly one place (a translateError function per backend).
var (
	// ErrNotFound: the key does not exist (or, for a point-in-time view,
	// did not exist at that time).
	ErrNotFound = errors.New("object not found")
	// ErrExists: Put found the key already present; nothing was written.
	ErrExists = errors.New("object already exists")
	// ErrRetained: the object is under retention and cannot be deleted,
	// or its retention cannot be shortened.
	ErrRetained = errors.New("object is under retention")
	// ErrInvalidRange: a ranged Get asked for bytes beyond the object's end.
	ErrInvalidRange = errors.New("invalid byte range")
	// ErrPermission: the credentials in use may not do this.
	ErrPermission = errors.New("permission denied by the store")
	// ErrNoBucket: the bucket (or local directory) does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrUnavailable: the store could not be reached or kept failing after
	// bounded retries.
	ErrUnavailable = errors.New("store unavailable")
	// ErrCorrupt: the bytes the store returned do not match the checksum
	// recorded when they were written.
	ErrCorrupt = errors.New("object failed its integrity check")
	// ErrInvalidKey: the key breaks the key rules (see CheckKey); nothing
	// was sent to the store.
	ErrInvalidKey = errors.New("invalid object key")
)

// MaxKeyLen is the longest key a backend accepts, in bytes.
const MaxKeyLen = 1024

// CheckKey returns nil if key follows the rules every backend enforces:
// non-empty, at most MaxKeyLen bytes of [A-Za-z0-9._/-], slash-separated
// segments that are neither empty nor "." or "..", so no leading, trailing
// or doubled slash. Otherwise it returns an error wrapping ErrInvalidKey.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %q: length %d not in 1..%d", ErrInvalidKey, key, len(key), MaxKeyLen)
	}
	return checkPath(key, false)
}

// CheckPrefix returns nil if prefix can start keys that pass CheckKey: it
// follows the same rules, but may be empty and may end in a slash.
func CheckPrefix(prefix string) error {
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("%w: prefix %q longer than %d", ErrInvalidKey, prefix, MaxKeyLen)
	}
	if prefix == "" {
		return nil
	}
	return checkPath(prefix, true)
}

// checkPath checks characters and segments; openEnd allows a trailing
// slash and a final segment that is a partial name (such as ".").
func checkPath(p string, openEnd bool) error {
	for i := 0; i < len(p); i++ {
		if !keyChar(p[i]) {
			return fmt.Errorf("%w: %q: character %q not allowed", ErrInvalidKey, p, p[i])
		}
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if last && openEnd {
			break
		}
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, \".\" or \"..\" segment", ErrInvalidKey, p)
		}
	}
	return nil
}

// keyChar reports whether c may appear in a key.
func keyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '.' || c == '_' || c == '/' || c == '-'
}

// Mode is an object-lock retention mode.
type Mode string

const (
	// Compliance retention cannot be shortened or bypassed by anyone.
	Compliance Mode = "COMPLIANCE"
	// Governance retention can be bypassed by specially privileged
	// credentials only.
	Governance Mode = "GOVERNANCE"
)

// Retention asks for an object to be protected until Until. A zero Until
// means no retention; an empty Mode with a date means Compliance.
type Retention struct {
	Mode  Mode
	Until time.Time
}

// IsZero reports whether r asks for no retention.
func (r Retention) IsZero() bool { return r.Until.IsZero() }

// Info describes one stored object.
type Info struct {
	Key         string
	Size        int64
	Modified    time.Time // upload time as the store records it
	RetainUntil time.Time // zero if none
	Mode        Mode      // empty if no retention
	VersionID   string    // empty if the backend has no versions
}

// Version is one version of a key, or a delete marker, as the store lists it.
type Version struct {
	Key          string
	VersionID    string    // the store's ID of this version
	Modified     time.Time // the server's upload time of this version
	Size         int64
	DeleteMarker bool
}

// Store is the contract every backend honours. coffer only ever needs these
// semantics, so a backend passes the conformance suite (objectstore/storetest)
// or it is not a backend.
//
//   - Keys are slash-separated relative paths of [A-Za-z0-9._/-] characters
//     (see CheckKey); a key that breaks the rules is ErrInvalidKey.
//   - A key has versions, oldest first. Put adds a key's first version;
//     the store may hold later ones (on S3, written by anyone who holds
//     write credentials and does not use If-None-Match) and delete
//     markers (a DELETE without a version ID). The current version is the
//     newest; a key whose current version is a delete marker, or that has
//     no version, is absent for Get, GetRange, Head and List.
//   - Put is atomic and never overwrites: if key is present it returns
//     ErrExists and changes nothing (S3: If-None-Match: *). It stores data
//     with the requested retention and always sends an integrity checksum
//     that the store verifies, and returns the ID of the version it
//     created. After Put returns, Get, Head, List and ListVersions see
//     the object (read-after-write).
//   - Get returns the current version whole, verified against its stored
//     checksum where the backend keeps one (ErrCorrupt on a mismatch);
//     GetRange returns exactly length bytes starting at off, or
//     ErrInvalidRange if the object is shorter.
//   - Head returns the current version's size, retention and version ID;
//     ErrNotFound if absent.
//   - List calls fn for every present key with the given prefix, in
//     byte-wise lexical order, across as many pages as the backend needs;
//     an error from fn stops the listing and is returned. Listed Infos
//     carry at least Key, Size and Modified; retention and version need
//     Head.
//   - ListVersions calls fn for every version and delete marker of every
//     key with the prefix: keys in byte-wise lexical order, each key's
//     versions oldest first, across all pages; fn's error stops it.
//   - GetVersion and GetVersionRange read one version by its ID, as Get
//     and GetRange read the current one. An unknown ID, or the ID of a
//     delete marker, is ErrNotFound.
//   - Delete removes the current version (the previous one, if any,
//     becomes current); a version whose retention has not passed gives
//     ErrRetained and stays. Deleting an absent key is ErrNotFound.
//   - DeleteVersion removes exactly one version or delete marker, by ID,
//     whatever is newer or older. A version whose retention has not
//     passed (or that carries a legal hold, see LegalHolder) gives
//     ErrRetained and stays readable; an unknown ID is ErrNotFound;
//     credentials that may not delete versions get ErrPermission. It
//     never bypasses GOVERNANCE retention. Only prune calls it, with the
//     administrator's credentials.
//   - Retention is per version. ExtendRetentionVersion moves that
//     version's retain-until later; it never shortens (an earlier or
//     equal date is a no-op, not an error) and keeps a mode already set.
//     ExtendRetention does the same for the key's first version that is
//     not a delete marker: the one coffer wrote, whatever was put over it.
//   - Now is the store's current time (S3: the Date header of a response).
//     Retain-until dates are judged against it, so coffer computes them
//     from it, never from its own clock.
//
// Every method takes a context as its first argument and honours its
// cancellation and deadline.
type Store interface {
	Put(ctx context.Context, key string, data []byte, ret Retention) (versionID string, err error)
	Get(ctx context.Context, key string) ([]byte, error)
	GetRange(ctx context.Context, key string, off, length int64) ([]byte, error)
	Head(ctx context.Context, key string) (Info, error)
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// ListVersions calls fn for every version and delete marker of every key
	// with the prefix: keys in lexical order, each key's versions oldest first.
	ListVersions(ctx context.Context, prefix string, fn func(Version) error) error
	GetVersion(ctx context.Context, key, versionID string) ([]byte, error)
	GetVersionRange(ctx context.Context, key, versionID string, off, length int64) ([]byte, error)
	Delete(ctx context.Context, key string) error
	// DeleteVersion removes one version or delete marker by its ID.
	DeleteVersion(ctx context.Context, key, versionID string) error
	ExtendRetention(ctx context.Context, key string, ret Retention) error
	// ExtendRetentionVersion moves that version's retain-until later (never earlier).
	ExtendRetentionVersion(ctx context.Context, key, versionID string, ret Retention) error
	// Now is the store's (server's) current time: S3's Date header.
	Now(ctx context.Context) (time.Time, error)
}

// LegalHolder is implemented by stores that support S3 legal holds: a
// per-version flag, independent of retention, that keeps the version from
// being deleted (DeleteVersion gives ErrRetained) until the flag is
// cleared. Whoever may set a hold may clear it (S3 has one permission,
// s3:PutObjectLegalHold, for both), so a hold protects against a prune
// that would remove what someone asked to keep, not against the holder
// of the credentials that placed it. See docs/STORE.md for what
// versitygw does.
type LegalHolder interface {
	// SetLegalHold places (on) or clears (off) the hold on one version;
	// ErrNotFound for an unknown version or a delete marker.
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
	// LegalHold reports whether that version is held.
	LegalHold(ctx context.Context, key, versionID string) (bool, error)
}

// DeleteProber is implemented by stores that can tell, before anything is
// changed, whether the credentials in use may delete versions: prune asks
// it first so that, run with the server's credentials, it stops before
// its first deletion rather than half-way.
type DeleteProber interface {
	// CanDeleteVersions reports whether DeleteVersion of an unretained
	// version would be allowed. An error means the question could not be
	// answered (the store is unreachable), not a refusal.
	CanDeleteVersions(ctx context.Context) (bool, error)
}

// CheckCall is how a backend starts an operation on key: it honours an
// already finished context and validates the key.
func CheckCall(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return CheckKey(key)
}

// Visit calls fn for each of infos in lexical key order, as List promises,
// stopping at the first error from fn or at the end of ctx.
func Visit(ctx context.Context, infos []Info, fn func(Info) error) error {
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// VisitVersions calls fn for each of versions with keys in lexical order,
// keeping the given order of each key's versions (which must be oldest
// first), as ListVersions promises, stopping at the first error from fn or
// at the end of ctx.
func VisitVersions(ctx context.Context, versions []Version, fn func(Version) error) error {
	slices.SortStableFunc(versions, func(a, b Version) int { return strings.Compare(a.Key, b.Key) })
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// FirstVersions returns, in key order, the first version that is not a
// delete marker of every key under prefix: the one coffer's Put wrote.
func FirstVersions(ctx context.Context, st Store, prefix string) ([]Version, error) {
	var out []Version
	seen := map[string]bool{}
	err := st.ListVersions(ctx, prefix, func(v Version) error {
		if !v.DeleteMarker && !seen[v.Key] {
			seen[v.Key] = true
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
