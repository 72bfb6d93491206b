// Package daemon is the one lifecycle of a coffer mount, head or snapshot:
// serve until a signal, `coffer umount` or an outside umount(8); commit on
// a timer and checkpoint the head between snapshots; and stop without
// dropping data: refuse new writers, wait (within a bound) for the files
// still open for writing, commit, unmount, and only then exit. It also owns
// the control socket through which `coffer snapshot` and `coffer umount`
// talk to the daemon serving a mountpoint, and tells a service manager
// (systemd's sd_notify) when the mount is ready, what it last committed,
// and when it stops.
package daemon
