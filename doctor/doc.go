// Package doctor proves, with real requests, the promises a repository's
// protection rests on: that the bucket keeps versions and locks objects in
// the repository's mode, that a conditional PUT is refused over an
// existing key, that COMPLIANCE retention cannot be shortened or weakened,
// that the credentials in use cannot delete, hide or unlock anything nor
// reconfigure the bucket, that the store's clock agrees with ours, that key
// slots and audit records are locked, that retention outlasts the deletion
// delay, and whether anyone has tampered with coffer's keys.
//
// Probes write only canary objects under doctor/, never touch data, and
// each promise gets one Result (holds, broken, warning or not applicable)
// with what to do when it does not hold. S3-only probes go through the
// narrow Prober interface (objectstore/s3's Probe methods); a local
// directory store gets the checks that apply to it.
package doctor
