package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"coffer/policy"
)

func newPolicyCmd() *cobra.Command {
	var repoURL, role, target, principal string
	var allowHTTP, explain bool
	c := &cobra.Command{
		Use:   "policy --repo s3://BUCKET/PREFIX [--role server|admin|restore] [--for aws|versitygw]",
		Short: "Print the least-privilege S3 policy for one repository's credentials",
		Long: `Print the access policy for the credentials of one role on one repository:

  server   (default) the machine that mounts and backs up: write new objects,
           read and list them and their versions, extend retention; nothing
           that deletes, places delete markers, bypasses GOVERNANCE, or
           changes versioning, object lock, lifecycle or the bucket policy
  admin    the administrator who prunes: the server's rights plus deleting
           a version whose lock has lapsed
  restore  read-only: list and read (and write audit records)

--for aws (default) prints an IAM policy to attach to the user or role, or,
with --principal ARN, a bucket policy. --for versitygw prints the bucket
policy versitygw accepts; its --principal is the user's access key.
--explain prints why each statement is there instead. docs/STORE.md gives
the reasons in full. Nothing is sent to the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if repoURL == "" {
				repoURL = os.Getenv("COFFER_REPOSITORY")
			}
			if repoURL == "" {
				return usageError{errors.New("no repository given: use --repo s3://BUCKET/PREFIX or COFFER_REPOSITORY")}
			}
			u, err := url.Parse(repoURL)
			if err != nil || u.Scheme != "s3" || u.Host == "" {
				return usageError{fmt.Errorf("policy is for S3 repositories: want s3://BUCKET/PREFIX, not %q", repoURL)}
			}
			doc, err := policy.Build(policy.Options{
				Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"),
				Role: policy.Role(role), For: policy.Target(target),
				Principal: principal, AllowHTTP: allowHTTP,
			})
			if err != nil {
				return usageError{err}
			}
			if explain {
				return doc.Explain(cmd.OutOrStdout())
			}
			out, err := doc.JSON()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	fl := c.Flags()
	fl.StringVarP(&repoURL, "repo", "r", "", "repository: s3://bucket/prefix (env COFFER_REPOSITORY)")
	fl.StringVar(&role, "role", string(policy.Server), "whose credentials: server, admin or restore")
	fl.StringVar(&target, "for", string(policy.AWS), "policy language: aws or versitygw")
	fl.StringVar(&principal, "principal", "", "who the policy grants to: an IAM ARN (aws: prints a bucket policy) or an access key (versitygw: required)")
	fl.BoolVar(&allowHTTP, "allow-http", false, "leave out the deny of requests without TLS (a loopback test server)")
	fl.BoolVar(&explain, "explain", false, "print each statement's reason instead of the policy")
	return c
}
