package policy

// builder assembles one policy's statements from its options.
type builder struct {
	o         Options
	principal *Principal // nil for an AWS identity policy
}

// The actions each concern needs, named once so every role shares them.
var (
	listActions     = []string{"s3:ListBucket", "s3:ListBucketVersions"}
	bucketState     = []string{"s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration", "s3:GetLifecycleConfiguration"}
	readActions     = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention", "s3:GetObjectLegalHold"}
	deleteActions   = []string{"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"}
	configureBucket = []string{"s3:PutBucketVersioning", "s3:PutBucketObjectLockConfiguration",
		"s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket"}
)

func (b *builder) bucketARN() string { return "arn:aws:s3:::" + b.o.Bucket }

// objectsARN is every object under the prefix, or under sub within it.
func (b *builder) objectsARN(sub string) string {
	p := b.bucketARN() + "/"
	if b.o.Prefix != "" {
		p += b.o.Prefix + "/"
	}
	return p + sub + "*"
}

func (b *builder) stmt(sid, effect string, actions, resources []string, reason string) Statement {
	return Statement{Sid: sid, Effect: effect, Principal: b.principal,
		Action: actions, Resource: resources, Reason: reason}
}

// statements returns the role's statements: allows first, then denies.
func (b *builder) statements() []Statement {
	bucket := []string{b.bucketARN()}
	objects := []string{b.objectsARN("")}
	list := b.stmt("CofferList", "Allow", listActions, bucket,
		"List the repository's keys and every version of them: reads resolve each key to its first version and report later versions and delete markers.")
	if b.o.Prefix != "" {
		list.Condition = map[string]map[string]string{"StringLikeIfExists": {"s3:prefix": b.o.Prefix + "/*"}}
		list.Reason += " A listing with a prefix must stay under the repository's; one without (HeadBucket, which gives the server's clock) passes."
	}
	out := []Statement{
		list,
		b.stmt("CofferBucketState", "Allow", bucketState, bucket,
			"Read (never change) the bucket's versioning, object-lock settings and lifecycle rules: init and doctor check them."),
		b.stmt("CofferRead", "Allow", readActions, objects,
			"Read objects and given versions of them, with their retention and legal hold."),
	}
	switch b.o.Role {
	case Server, Admin:
		out = append(out,
			b.stmt("CofferWriteNew", "Allow", []string{"s3:PutObject"}, objects,
				"Write new objects with their retention (coffer writes every key once, with If-None-Match: *)."),
			b.stmt("CofferExtendRetention", "Allow", []string{"s3:PutObjectRetention"}, objects,
				"Move retain-until dates later as snapshots keep reusing objects. S3 refuses to shorten COMPLIANCE retention, and shortening GOVERNANCE needs the bypass denied below."),
			b.stmt("CofferAbortUpload", "Allow", []string{"s3:AbortMultipartUpload"}, objects,
				"Abandon a failed multipart upload: this removes the parts of an unfinished upload, never a stored object."),
			b.stmt("CofferLegalHold", "Allow", []string{"s3:PutObjectLegalHold"}, objects,
				"Place legal holds on a held snapshot's objects (coffer hold) and clear them (coffer release). S3 has this one permission for both, so a hold placed with these credentials guards against a prune that would remove what someone asked to keep, not against whoever holds them; they cannot delete anything anyway (denied below)."))
	case Restore:
		out = append(out, b.stmt("CofferWriteAudit", "Allow", []string{"s3:PutObject"}, []string{b.objectsARN("audit/")},
			"Write the audit records of restores and read-only mounts, and nothing else."))
	}
	if b.o.Role == Admin {
		out = append(out, b.stmt("CofferPruneDelete", "Allow", []string{"s3:DeleteObjectVersion"}, objects,
			"Prune removes versions whose retention has lapsed and whose deletion request has matured; S3 refuses while a lock holds."))
	}
	return append(out, b.denies()...)
}

// denies are explicit, so no other grant to the same credentials (a group
// policy, a broad bucket policy) can add what they exclude.
func (b *builder) denies() []Statement {
	bucket := []string{b.bucketARN()}
	objects := []string{b.objectsARN("")}
	del := deleteActions
	reason := "Never delete a version, place a delete marker or bypass GOVERNANCE retention: an intruder holding these credentials could otherwise destroy or hide the backups."
	if b.o.Role == Admin {
		del = []string{"s3:DeleteObject", "s3:BypassGovernanceRetention"}
		reason = "Prune deletes versions by ID once their lock has lapsed; it never places delete markers nor bypasses GOVERNANCE retention."
	}
	out := []Statement{
		b.stmt("CofferDenyDelete", "Deny", del, objects, reason),
		b.stmt("CofferDenyBucketConfig", "Deny", configureBucket, bucket,
			"Never change versioning, object lock, lifecycle rules (which could expire versions) or the bucket policy, nor delete the bucket: each would undo the protection the policy gives."),
	}
	if b.o.For == AWS {
		res := objects
		if b.o.Role == Restore {
			res = []string{b.objectsARN("audit/")}
		}
		s := b.stmt("CofferDenyOverwrite", "Deny", []string{"s3:PutObject"}, res,
			"Refuse a PUT without If-None-Match, which could overwrite a key with a new version; multipart parts (s3:ObjectCreationOperation false) carry no condition header and stay allowed, so large uploads still work.")
		s.Condition = map[string]map[string]string{
			"Null": {"s3:if-none-match": "true"},
			"Bool": {"s3:ObjectCreationOperation": "true"},
		}
		out = append(out, s)
	}
	if !b.o.AllowHTTP {
		s := b.stmt("CofferDenyInsecureTransport", "Deny", []string{"s3:*"}, append(bucket, objects...),
			"Refuse any request not made over TLS.")
		s.Condition = map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}}
		out = append(out, s)
	}
	return out
}
