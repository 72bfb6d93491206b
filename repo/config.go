package repo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"coffer/chunker"
	"coffer/cipher"
	"coffer/objectstore"
)

// Errors returned when a repository cannot be created or opened.
var (
	// ErrNotRepository: the location holds no coffer repository.
	ErrNotRepository = errors.New("no coffer repository at this location")
	// ErrNotEmpty: init was pointed at a location that already holds objects.
	ErrNotEmpty = errors.New("location already holds data")
	// ErrWrongKey: no key slot opens with the passphrase or key file given.
	ErrWrongKey = errors.New("wrong passphrase or key file")
	// ErrCorrupt: a repository object failed to parse or authenticate.
	ErrCorrupt = errors.New("repository object is corrupt")
	// ErrVersion: the repository uses a format this binary does not know.
	ErrVersion = errors.New("unsupported repository format version")
)

// Policy is the repository's retention policy for new objects.
type Policy struct {
	Mode objectstore.Mode `json:"mode,omitempty"`
	Days int              `json:"days"`
}

// params are the repository's settings, sealed inside the config object.
type params struct {
	Chunker   chunker.Params `json:"chunker"`
	Retention Policy         `json:"retention"`
	Created   time.Time      `json:"created"`
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
	Now       time.Time
}

// Init creates a repository in an empty store and returns its ID. It
// refuses a store that already holds any object, and changes nothing then.
func Init(ctx context.Context, st objectstore.Store, secret Secret, o InitOptions) ([]byte, error) {
	err := st.List(ctx, "", func(objectstore.Info) error { return ErrNotEmpty })
	if err != nil {
		return nil, err
	}
	if o.Chunker == (chunker.Params{}) {
		o.Chunker = chunker.DefaultParams()
	}
	if err := o.Chunker.Validate(); err != nil {
		return nil, err
	}
	mk, err := cipher.NewMasterKey()
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	keys := cipher.DeriveKeys(mk, id)
	p, err := json.Marshal(params{Chunker: o.Chunker, Retention: o.Retention, Created: o.Now.UTC()})
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
	if _, err := putSlot(ctx, st, secret, mk); err != nil {
		return nil, err
	}
	ret := retention(o.Retention, o.Now)
	if _, err := putVerified(ctx, st, configKey, cfg, ret); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	return id, nil
}

func retention(p Policy, now time.Time) objectstore.Retention {
	if p.Days <= 0 {
		return objectstore.Retention{}
	}
	mode := p.Mode
	if mode == "" {
		mode = objectstore.Compliance
	}
	return objectstore.Retention{Mode: mode, Until: now.Add(time.Duration(p.Days) * 24 * time.Hour)}
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
