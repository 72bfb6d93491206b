// Package s3 is the objectstore backend for Amazon S3 and S3-compatible
// services, built on aws-sdk-go-v2.
//
// It owns the mapping from the Store contract to S3 requests: conditional
// puts (If-None-Match: *) with SHA-256 checksums and object-lock
// retention, multipart uploads for large objects, ranged reads, paginated
// listing, version-exact deletes and retention extension. It also owns
// the connection policy: credentials from the standard AWS chain, HTTPS
// only (plain HTTP solely to a loopback test server on request), an
// optional extra CA bundle, bounded retries with backoff, and the single
// translateError that turns SDK errors into objectstore's sentinels.
// docs/STORE.md describes each mapping and the permissions a server needs.
package s3
