package repo

// RetentionPolicy is the repository's retention policy (mode and period)
// as init sealed it in the config: doctor checks the bucket against it.
func (r *Repository) RetentionPolicy() Policy { return r.params.Retention }
