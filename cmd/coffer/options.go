package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"coffer/cipher"
	"coffer/objectstore"
	"coffer/objectstore/local"
	"coffer/objectstore/s3"
	"coffer/repo"
)

// repoFlags are the options every command that opens a repository takes.
type repoFlags struct {
	repo         string
	passwordFile string
	keyFile      string
	endpoint     string
	region       string
	caBundle     string
	insecureHTTP bool
	pathStyle    bool
	verbose      bool
	logFormat    logFormat // --log-format; registered by mount only
	// ignoreRevocations opens with a revoked key slot (repo.Options).
	ignoreRevocations bool
}

func (f *repoFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVarP(&f.repo, "repo", "r", "", "repository: a directory, file:///dir or s3://bucket/prefix (env COFFER_REPOSITORY)")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the passphrase from this file (env COFFER_PASSWORD_FILE, or COFFER_PASSWORD)")
	fl.StringVar(&f.keyFile, "key-file", "", "use a raw key file instead of a passphrase (env COFFER_KEY_FILE)")
	fl.StringVar(&f.endpoint, "endpoint", "", "S3 endpoint URL (env AWS_ENDPOINT_URL_S3)")
	fl.StringVar(&f.region, "region", "", "S3 region (default: the AWS configuration's, else us-east-1)")
	fl.StringVar(&f.caBundle, "ca-bundle", "", "PEM file of extra CA certificates to trust for the S3 endpoint")
	fl.BoolVar(&f.insecureHTTP, "insecure-http", false, "allow a plain http:// S3 endpoint on a loopback address (test servers only)")
	fl.BoolVar(&f.pathStyle, "path-style", false, "address S3 buckets by path instead of by host name")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debugging detail to stderr")
	fl.BoolVar(&f.ignoreRevocations, "ignore-revocations", false, "open the repository even if the key slot the passphrase or key file opens is revoked")
}

func (f *repoFlags) logger() *slog.Logger { return newLogger(os.Stderr, f.logFormat, f.verbose) }

func (f *repoFlags) location() (string, error) {
	loc := f.repo
	if loc == "" {
		loc = os.Getenv("COFFER_REPOSITORY")
	}
	if loc == "" {
		return "", usageError{errors.New("no repository given: use --repo URL or COFFER_REPOSITORY")}
	}
	return loc, nil
}

// openStore opens the store named by --repo. With create, a missing local
// directory is made.
func (f *repoFlags) openStore(ctx context.Context, create bool) (objectstore.Store, error) {
	loc, err := f.location()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(loc, "s3://") {
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return nil, usageError{fmt.Errorf("bad S3 repository %q: want s3://bucket/prefix", loc)}
		}
		return s3.New(ctx, s3.Config{
			Bucket:       u.Host,
			Prefix:       strings.Trim(u.Path, "/"),
			Endpoint:     f.endpoint,
			Region:       f.region,
			CABundle:     f.caBundle,
			InsecureHTTP: f.insecureHTTP,
			PathStyle:    f.pathStyle,
			Logger:       f.logger(),
		})
	}
	dir := strings.TrimPrefix(loc, "file://")
	if strings.Contains(dir, "://") {
		return nil, usageError{fmt.Errorf("unknown repository scheme in %q: use a path, file:// or s3://", loc)}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	return local.New(dir, time.Now)
}

// secret reads the passphrase or key file the flags and environment name.
// With confirm, an interactive passphrase is asked for twice.
func (f *repoFlags) secret(confirm bool) (repo.Secret, error) {
	keyFile := f.keyFile
	if keyFile == "" && f.passwordFile == "" {
		keyFile = os.Getenv("COFFER_KEY_FILE")
	}
	if keyFile != "" {
		k, err := cipher.ReadKeyFile(keyFile)
		if err != nil {
			return repo.Secret{}, fmt.Errorf("key file %s: %w", keyFile, err)
		}
		return repo.Secret{KeyFile: k}, nil
	}
	pass, err := readPassphrase(f.passwordFile, "COFFER_PASSWORD_FILE", "COFFER_PASSWORD", "Passphrase", confirm)
	if err != nil {
		return repo.Secret{}, err
	}
	return repo.Secret{Passphrase: pass}, nil
}

// readPassphrase takes a passphrase from a file, a file named by an
// environment variable, an environment variable, or the terminal.
func readPassphrase(file, fileEnv, valueEnv, prompt string, confirm bool) ([]byte, error) {
	if file == "" && fileEnv != "" {
		file = os.Getenv(fileEnv)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		pass := []byte(strings.TrimRight(string(data), "\r\n"))
		if len(pass) == 0 {
			return nil, fmt.Errorf("password file %s is empty", file)
		}
		return pass, nil
	}
	if v := os.Getenv(valueEnv); valueEnv != "" && v != "" {
		return []byte(v), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, usageError{errors.New("no passphrase: use --password-file, COFFER_PASSWORD_FILE, COFFER_PASSWORD or --key-file")}
	}
	fmt.Fprintf(os.Stderr, "%s: ", prompt)
	pass, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if confirm {
		fmt.Fprintf(os.Stderr, "%s again: ", prompt)
		again, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, err
		}
		if string(again) != string(pass) {
			return nil, errors.New("the passphrases do not match")
		}
	}
	return pass, nil
}

// open opens and unlocks the repository.
func (f *repoFlags) open(ctx context.Context, o repo.Options) (*repo.Repository, error) {
	secret, err := f.secret(false)
	if err != nil {
		return nil, err
	}
	st, err := f.openStore(ctx, false)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = f.logger()
	}
	o.IgnoreRevocations = o.IgnoreRevocations || f.ignoreRevocations
	return repo.Open(ctx, st, secret, o)
}

// withRepo turns fn into a command body that runs with the repository
// open, and closes it after.
func (f *repoFlags) withRepo(fn func(cmd *cobra.Command, args []string, r *repo.Repository) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		r, err := f.open(cmd.Context(), repo.Options{})
		if err != nil {
			return err
		}
		defer r.Close()
		return fn(cmd, args, r)
	}
}
