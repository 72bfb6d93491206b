package main

import (
	"encoding/json"
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
changing a slot never touches a data object.

Slots are locked like every other object, so they are never deleted here:
removing a slot writes a revocation, after which coffer no longer opens the
repository with it. A revocation does not change the master key: anyone who
copied the old slot and knows its passphrase can still unwrap it.`,
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
	var asJSON bool
	c := &cobra.Command{
		Use:   "list --repo URL",
		Short: "List key slots and whether each is revoked; * marks the one that opened the repository",
		Args:  cobra.NoArgs,
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			slots, err := r.Slots(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				type slotJSON struct {
					ID    string `json:"id"`
					Kind  string `json:"kind"`
					State string `json:"state"`  // usable, revoked, revocation-not-honoured
					InUse bool   `json:"in_use"` // the slot that opened the repository for this command
				}
				out := make([]slotJSON, 0, len(slots))
				for _, s := range slots {
					out = append(out, slotJSON{ID: s.ID, Kind: s.Kind, State: slotState(s), InUse: s.ID == r.SlotID()})
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, " \tID\tKIND\tSTATE")
			for _, s := range slots {
				mark := " "
				if s.ID == r.SlotID() {
					mark = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark, s.ID, s.Kind, slotState(s))
			}
			return w.Flush()
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the slots as a JSON array of {id, kind, state, in_use}")
	return c
}

// slotState is one word for key list's STATE column.
func slotState(s repo.SlotInfo) string {
	switch {
	case s.Revoked:
		return "revoked"
	case s.Unhonoured:
		// A revocation names it, but would have left no usable slot.
		return "revocation-not-honoured"
	}
	return "usable"
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
		Short: "Revoke a key slot (not the one in use, nor the last usable one, without --force)",
		Long: `Revoke a key slot, so its passphrase or key file no longer opens the
repository through coffer. The slot object stays, locked like every
object coffer writes (no coffer command deletes it yet). The master key does not change, so
anyone who copied the slot and knows its passphrase can still unwrap it.

It refuses, changing nothing, the slot that opened the repository for this
command (open it with another passphrase or key file) and the last usable
slot; --force revokes either. A revocation that would leave no usable slot
is recorded but not honoured, so revocations can never lock everyone out.`,
		Args: cobra.ExactArgs(1),
		RunE: f.withRepo(func(cmd *cobra.Command, args []string, r *repo.Repository) error {
			honoured, err := r.RevokeSlot(cmd.Context(), args[0], force)
			if err != nil {
				return err
			}
			f.recordKeyChange(cmd, r, audit.KindKeyRevoke, args[0], "")
			if !honoured {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote a revocation of key slot %s, but it is not honoured: it would leave no usable key slot\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked key slot %s\n", args[0])
			return nil
		}),
	}
	f.register(c)
	c.Flags().BoolVar(&force, "force", false, "revoke the slot even if it is the one in use or the last usable one")
	return c
}

func newKeyPasswdCmd() *cobra.Command {
	var f repoFlags
	var n newSecretFlags
	c := &cobra.Command{
		Use:   "passwd --repo URL",
		Short: "Change the passphrase: add a slot for the new one, revoke the old one",
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
			// Opened with --ignore-revocations, it may be revoked already.
			_, err = r.RevokeSlot(cmd.Context(), old, true)
			if err != nil && !errors.Is(err, repo.ErrAlreadyRevoked) {
				return errors.Join(fmt.Errorf("added key slot %s but could not revoke the old slot %s", id, old), err)
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
