// Package policy owns the least-privilege access policies coffer prints
// (`coffer policy`): which S3 actions each role's credentials get on one
// repository's bucket and prefix, and which are denied outright. The
// statements are data (Build returns them with the reason for each), so
// the printer, the documentation and the tests all read the same list.
//
// Three roles: the server that backs up (write new objects, read, list,
// extend retention; nothing that deletes or reconfigures the bucket), the
// administrator who prunes (the server's rights plus deleting a version),
// and a read-only restore role. Two forms: AWS (an IAM identity policy, or
// a bucket policy when a principal is named, with the conditions AWS
// knows) and versitygw v1.8.0 (a bucket policy whose principals are access
// keys, without the condition keys versitygw rejects).
package policy
