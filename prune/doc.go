// Package prune removes what matured deletion requests let go, and the
// space nothing needs any more, in two steps that never race a backup:
// Plan decides (snapshots whose requests are due, packs no kept snapshot
// needs, partly used packs to repack, index objects to compact, revoked
// key slots) and publishes the plan as a prune/ object; after the
// repository's prune margin, Execute removes what the plan names except
// what a kept snapshot or a running mount still needs by then. Running
// daemons read the plans and stop relying on their packs within the
// margin (the protocol is in docs/FORMAT.md, "Prune").
//
// Every step is safe to kill: a snapshot object goes before any pack it
// needs, an index only once its live entries are durable in another, and
// running again completes what was left. Run is what `coffer prune` calls.
package prune
