// Package forget decides which snapshots a `coffer forget` asks to
// delete: restic's retention policy (keep the last N, hourly, daily,
// weekly, monthly and yearly snapshots, those within a duration, those
// with tags), judged by the store's upload time of each snapshot rather
// than the time written inside it, with held and already requested
// snapshots set aside; and which requests a `coffer forget --cancel`
// ends. It only plans: the repository (repo.RequestDeletion,
// repo.CancelDeletion) writes what the plan says.
package forget
