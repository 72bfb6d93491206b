package repo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/duration"
	"coffer/objectstore"
)

// Errors returned when a repository cannot be created or opened.
var (
	// ErrNotRepository: the location holds no coffer repository.
	ErrNotRepository = errors.New("no coffer repository at this location")
	// ErrNotEmpty: init was pointed at a location that already holds objects.
	ErrNotEmpty = errors.New("location already holds data")
	// ErrNoObjectLock: init asked for a retention on a bucket without
	// object lock, and wrote nothing.
	ErrNoObjectLock = errors.New("the bucket does not have object lock enabled")
	// ErrWrongKey: no key slot opens with the passphrase or key file given.
	ErrWrongKey = errors.New("wrong passphrase or key file")
	// ErrCorrupt: a repository object failed to parse or authenticate.
	ErrCorrupt = errors.New("repository object is corrupt")
	// ErrVersion: the repository uses a format this binary does not know.
	ErrVersion = errors.New("unsupported repository format version")
)

// Policy is the repository's retention policy: every object is written
// locked, and kept locked while a live snapshot needs it (see retain.go).
type Policy struct {
	Mode objectstore.Mode `json:"mode,omitempty"`
	// Days is the retention in whole days. Seconds, when set, is the
	// retention and Days is ignored: it says what Days cannot (90s).
	Days    int   `json:"days"`
	Seconds int64 `json:"seconds,omitempty"`
}

// PolicyFor is the policy of retention d in mode: d in whole days is
// written as Days (as repositories have always had it), any other d as
// Seconds. d of zero is no retention.
func PolicyFor(mode objectstore.Mode, d time.Duration) Policy {
	if d%(24*time.Hour) == 0 {
		return Policy{Mode: mode, Days: int(d / (24 * time.Hour))}
	}
	return Policy{Mode: mode, Seconds: int64((d + time.Second - 1) / time.Second)}
}

// Period is the retention R: how long every object stays locked at least.
// Zero means no object lock.
func (p Policy) Period() time.Duration {
	if p.Seconds > 0 {
		return time.Duration(p.Seconds) * time.Second
	}
	if p.Days > 0 {
		return time.Duration(p.Days) * 24 * time.Hour
	}
	return 0
}

// params are the repository's settings, sealed inside the config object.
type params struct {
	Chunker   chunker.Params `json:"chunker"`
	Retention Policy         `json:"retention"`
	Created   time.Time      `json:"created"`
	// Deletion is absent on repositories made before deletion existed:
	// they get the defaults.
	Deletion *DeletionSettings `json:"deletion,omitempty"`
}

// configObject is the plaintext config object: only the format version and
// the repository ID are readable without the key.
type configObject struct {
	Version int    `json:"version"`
	ID      []byte `json:"id"`
	Sealed  []byte `json:"sealed"`
}

// Secret is what unlocks a key slot: a passphrase or a key file's key.
type Secret struct {
	Passphrase []byte
	KeyFile    []byte
	// KDF overrides the argon2id parameters for new passphrase slots
	// (tests use small ones); zero means cipher.DefaultKDFParams.
	KDF cipher.KDFParams
}

func (s Secret) kind() string {
	if s.KeyFile != nil {
		return "keyfile"
	}
	return "passphrase"
}

func (s Secret) bytes() []byte {
	if s.KeyFile != nil {
		return s.KeyFile
	}
	return s.Passphrase
}

func (s Secret) wrap(mk cipher.MasterKey) (*cipher.Slot, error) {
	if s.KeyFile != nil {
		return cipher.WrapKeyFile(mk, s.KeyFile)
	}
	p := s.KDF
	if p == (cipher.KDFParams{}) {
		p = cipher.DefaultKDFParams()
	}
	return cipher.WrapPassphrase(mk, s.Passphrase, p)
}

// InitOptions are the settings fixed when a repository is created.
type InitOptions struct {
	Chunker   chunker.Params
	Retention Policy
	// Deletion fixes the deletion delay and prune margin; zero fields
	// take the defaults (see CheckDeletion for what is refused).
	Deletion DeletionSettings
	Now      time.Time
	// Logger hears of key slots an unfinished init left that cannot be
	// read; nil discards.
	Logger *slog.Logger
}

// LockProber is a store whose object lock is a setting of the bucket that
// may be off (S3). Init asks it before writing anything; a store without
// the method keeps retentions itself (local, memory).
type LockProber interface {
	ObjectLockEnabled(ctx context.Context) (bool, error)
}

// Init creates a repository in an empty store and returns its ID. It
// refuses a store that already holds any object (ErrNotEmpty), and a
// retention on a bucket without object lock (ErrNoObjectLock), changing
// nothing then. The config is written last: a store that holds only key
// slots is an init that failed after writing its slot, and Init finishes
// it, reusing the slot that secret opens (the slot may be locked, so it
// cannot be removed); a secret that opens none of them is ErrWrongKey.
func Init(ctx context.Context, st objectstore.Store, secret Secret, o InitOptions) ([]byte, error) {
	// Through the versions: a repository hidden behind delete markers
	// is not an empty location.
	unfinished, err := unfinishedInit(ctx, newFirstVersions(st, slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	if o.Chunker == (chunker.Params{}) {
		o.Chunker = chunker.DefaultParams()
	}
	if err := o.Chunker.Validate(); err != nil {
		return nil, err
	}
	// The floors are the command's to enforce (CheckDeletion): tests of
	// other things make repositories with short retentions.
	o.Deletion = o.Deletion.withDefaults()
	if err := probeObjectLock(ctx, st, o.Retention); err != nil {
		return nil, err
	}
	var mk cipher.MasterKey
	if unfinished {
		log := o.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if mk, _, err = unlock(ctx, newFirstVersions(st, log), secret, log); errors.Is(err, ErrWrongKey) {
			return nil, fmt.Errorf("%w: an unfinished init left key slots here that this passphrase or key file does not open; run init again with the one it used", err)
		} else if err != nil {
			return nil, err
		}
	} else if mk, err = cipher.NewMasterKey(); err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	keys := cipher.DeriveKeys(mk, id)
	p, err := json.Marshal(params{Chunker: o.Chunker, Retention: o.Retention, Created: o.Now.UTC(), Deletion: &o.Deletion})
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(configObject{
		Version: FormatVersion,
		ID:      id,
		Sealed:  keys.Metadata().Seal(nil, p, objectAD(id, "config", configKey)),
	})
	if err != nil {
		return nil, err
	}
	ret := retention(o.Retention, o.Now)
	if !unfinished {
		if _, err := putSlot(ctx, st, secret, mk, ret); err != nil {
			return nil, err
		}
	}
	_, err = putVerified(ctx, st, configKey, cfg, ret)
	if errors.Is(err, objectstore.ErrExists) {
		return nil, fmt.Errorf("another init finished first: %w", ErrNotEmpty)
	}
	if err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	return id, nil
}

// unfinishedInit reports whether st holds key slots and nothing else. Any
// other object makes the store not empty.
func unfinishedInit(ctx context.Context, st objectstore.Store) (bool, error) {
	slots := false
	err := st.List(ctx, "", func(i objectstore.Info) error {
		if !strings.HasPrefix(i.Key, keysPrefix) {
			return ErrNotEmpty
		}
		slots = true
		return nil
	})
	return slots, err
}

// probeObjectLock refuses a retention that st's bucket cannot keep. A
// probe the credentials may not make is no answer: init goes ahead, and a
// refused write fails it later (and the next init finishes it).
func probeObjectLock(ctx context.Context, st objectstore.Store, p Policy) error {
	prober, ok := st.(LockProber)
	if !ok || p.Period() <= 0 {
		return nil
	}
	enabled, err := prober.ObjectLockEnabled(ctx)
	switch {
	case errors.Is(err, objectstore.ErrPermission):
		return nil
	case err != nil:
		return fmt.Errorf("check the bucket's object lock: %w", err)
	case !enabled:
		return fmt.Errorf("%w, so it cannot keep %s of retention", ErrNoObjectLock, duration.Format(p.Period()))
	}
	return nil
}

// mode is the lock mode objects get: COMPLIANCE unless GOVERNANCE was asked.
func (p Policy) mode() objectstore.Mode {
	if p.Mode == "" {
		return objectstore.Compliance
	}
	return p.Mode
}

func retention(p Policy, now time.Time) objectstore.Retention {
	if p.Period() <= 0 {
		return objectstore.Retention{}
	}
	return objectstore.Retention{Mode: p.mode(), Until: now.Add(p.Period())}
}

// readConfig fetches the plaintext part of the config object.
func readConfig(ctx context.Context, st objectstore.Store) (configObject, error) {
	var c configObject
	data, err := st.Get(ctx, configKey)
	if errors.Is(err, objectstore.ErrNotFound) {
		return c, ErrNotRepository
	}
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil || len(c.ID) != 16 {
		return c, fmt.Errorf("config: %w", ErrCorrupt)
	}
	if c.Version != FormatVersion {
		return c, fmt.Errorf("%w %d (this coffer reads %d)", ErrVersion, c.Version, FormatVersion)
	}
	return c, nil
}

func openParams(keys *cipher.Keys, c configObject) (params, error) {
	var p params
	plain, err := keys.Metadata().Open(nil, c.Sealed, objectAD(c.ID, "config", configKey))
	if err != nil {
		return p, fmt.Errorf("config: %w: %v", ErrCorrupt, err)
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		return p, fmt.Errorf("config: %w", ErrCorrupt)
	}
	if err := p.Chunker.Validate(); err != nil {
		return p, fmt.Errorf("config: %w: %v", ErrCorrupt, err)
	}
	return p, nil
}
