package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"coffer/audit"
	"coffer/cipher"
	"coffer/repo"
)

func newKeyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "key",
		Short: "Manage key files and the repository's key slots",
		Long: `The repository's master key is stored only wrapped, in one or more key
slots: each is opened by a passphrase or by a key file. Adding, removing or
changing a slot never touches a data object.`,
	}
	c.AddCommand(newKeyGenerateCmd(), newKeyListCmd(), newKeyAddCmd(), newKeyRemoveCmd(), newKeyPasswdCmd())
	return c
}

func newKeyGenerateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "generate FILE",
		Short: "Write a new random key file (mode 0600) for --key-file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cipher.GenerateKeyFile(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote key file %s; keep a copy somewhere safe\n", args[0])
			return nil
		},
	}
}

func newKeyListCmd() *cobra.Command {
	var f repoFlags
	c := &cobra.Command{
		Use:   "list --repo URL",
		Short: "List key slots; * marks the one that opened the repository",
		Args:  cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			slots, err := r.Slots(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, " \tID\tKIND")
			for _, s := range slots {
				mark := " "
				if s.ID == r.SlotID() {
					mark = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", mark, s.ID, s.Kind)
			}
			return w.Flush()
		}),
	}
	f.register(c)
	return c
}

// newSecretFlags reads the secret for a new slot.
type newSecretFlags struct {
	passwordFile string
	keyFile      string
}

func (n *newSecretFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&n.passwordFile, "new-password-file", "", "read the new passphrase from this file (else COFFER_NEW_PASSWORD or a prompt)")
	c.Flags().StringVar(&n.keyFile, "new-key-file", "", "wrap the key with this key file instead of a passphrase")
}

func (n *newSecretFlags) secret() (repo.Secret, error) {
	if n.keyFile != "" {
		k, err := cipher.ReadKeyFile(n.keyFile)
		if err != nil {
			return repo.Secret{}, fmt.Errorf("new key file %s: %w", n.keyFile, err)
		}
		return repo.Secret{KeyFile: k}, nil
	}
	p, err := readPassphrase(n.passwordFile, "", "COFFER_NEW_PASSWORD", "New passphrase", true)
	return repo.Secret{Passphrase: p}, err
}

func newKeyAddCmd() *cobra.Command {
	var f repoFlags
	var n newSecretFlags
	c := &cobra.Command{
		Use:   "add --repo URL",
		Short: "Add a key slot for another passphrase or key file",
		Args:  cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			s, err := n.secret()
			if err != nil {
				return err
			}
			id, err := r.AddSlot(cmd.Context(), s)
			if err != nil {
				return err
			}
			f.recordKeyChange(cmd, r, audit.KindKeyAdd, id, secretKind(s))
			fmt.Fprintf(cmd.OutOrStdout(), "added key slot %s\n", id)
			return nil
		}),
	}
	f.register(c)
	n.register(c)
	return c
}

func newKeyRemoveCmd() *cobra.Command {
	var f repoFlags
	var force bool
	c := &cobra.Command{
		Use:   "remove --repo URL SLOT-ID",
		Short: "Remove a key slot (not the one in use, nor the last, without --force)",
		Long: `Remove a key slot, so its passphrase or key file no longer opens the
repository. It refuses, changing nothing, the slot that opened the
repository for this command (open it with another passphrase or key file)
and the last slot (without a slot nobody can ever read the backups again);
--force removes either.`,
		Args: cobra.ExactArgs(1),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			if err := r.RemoveSlot(cmd.Context(), args[0], force); err != nil {
				return err
			}
			f.recordKeyChange(cmd, r, audit.KindKeyRevoke, args[0], "")
			fmt.Fprintf(cmd.OutOrStdout(), "removed key slot %s\n", args[0])
			return nil
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&force, "force", false, "remove the slot even if it is the one in use or the last one")
	return c
}

func newKeyPasswdCmd() *cobra.Command {
	var f repoFlags
	var n newSecretFlags
	c := &cobra.Command{
		Use:   "passwd --repo URL",
		Short: "Change the passphrase: add a slot for the new one, remove the old one",
		Args:  cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			s, err := n.secret()
			if err != nil {
				return err
			}
			old := r.SlotID()
			id, err := r.AddSlot(cmd.Context(), s)
			if err != nil {
				return err
			}
			// The old slot is the one in use, on purpose; the new one remains.
			if err := r.RemoveSlot(cmd.Context(), old, true); err != nil {
				return errors.Join(fmt.Errorf("added key slot %s but could not remove the old slot %s", id, old), err)
			}
			f.recordKeyChange(cmd, r, audit.KindKeyAdd, id, secretKind(s))
			f.recordKeyChange(cmd, r, audit.KindKeyRevoke, old, "")
			fmt.Fprintf(cmd.OutOrStdout(), "changed: key slot %s replaces %s\n", id, old)
			return nil
		}),
	}
	f.register(c)
	n.register(c)
	return c
}
