package objectstore

// LifecycleRule is one bucket lifecycle rule that can act on a store's
// keys, as `coffer doctor` judges it: S3 lifecycle rules delete and hide
// versions on the provider's own schedule, outside coffer's deletion
// delay. Day counts are zero when the rule has no such action.
type LifecycleRule struct {
	ID string
	// Prefix is the rule's filter prefix in the bucket, "" for every key.
	Prefix string
	// ExpirationDays: current versions get a delete marker after that
	// many days (on a versioned bucket nothing is removed).
	ExpirationDays int
	// NoncurrentDays: versions are deleted that many days after a later
	// version or delete marker made them noncurrent (once unlocked).
	NoncurrentDays int
	// AbortIncompleteDays: unfinished multipart uploads are abandoned.
	AbortIncompleteDays int
}
