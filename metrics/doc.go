// Package metrics exposes a mount's workings to Prometheus: what was
// written, deduplicated and uploaded, upload errors and retries, packs
// waiting, the block cache's hits, the last snapshot, and how long FUSE
// requests take, by operation. It serves them over HTTP on a loopback
// address only, unless asked otherwise: coffer promises to open no
// inbound connections, and metrics name repository activity.
package metrics
