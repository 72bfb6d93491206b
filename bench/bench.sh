#!/usr/bin/env bash
# shellcheck disable=SC2317 # cleanup and rclone_flushed run from a trap and bash -c
# bench.sh measures coffer beside the tools its users compare it with:
# a plain directory on the same disk, gocryptfs, an rclone crypt mount and
# restic, all in one run, and prints one table of figures with their targets.
#
#   make bench                    # what a user runs (builds coffer first)
#   bench/bench.sh --quick        # small sizes, for working on the script
#
# docs/BENCHMARKS.md says what each figure means. The script needs root
# (FUSE mounts and dropping the page cache). It only stops processes it
# started itself, by the PIDs it recorded.
set -euo pipefail

# The whole script is one { } block, so bash reads all of it before running
# any: editing the file during a run cannot change the running one.
{

usage() {
	cat <<'EOF'
usage: bench/bench.sh [--quick] [--help]

  --quick   small sizes (64 MiB write, 256 MiB big write, $GOROOT/src/crypto
            as the tree) so a run takes a minute or two

environment:
  COFFER_BIN         coffer binary (default: bin/coffer beside bench/)
  COFFER_VERSITYGW   versitygw binary for the S3 figures (default: .cache/bin/versitygw)
  COFFER_S3_FLAGS    extra flags for coffer init/mount on S3
                     (default: "--insecure-http --path-style")
  BENCH_DIR          where the work happens (default: /var/tmp/coffer-bench);
                     random sources and results are kept there between runs
  BENCH_SIZE_MB      size of the written and read file (default: 1024)
  BENCH_BIG_MB       size of the second file for the memory figure (default: 4096)
  BENCH_TREE         the tree that rsync copies (default: $GOROOT/src)
  BENCH_SKIP_S3=1    skip versitygw, coffer on S3 and restic
  BENCH_SKIP_RCLONE=1  skip the rclone crypt mount
  BENCH_SKIP_GOCRYPTFS=1  skip gocryptfs
  BENCH_COFFER_READ  how coffer's snapshot is read: "mount" (a fresh
                     `coffer mount --snapshot latest`, default) or "dir"
                     (MOUNTPOINT/.snapshots/latest of a fresh head mount)
  BENCH_TIMEOUT      seconds one step may take before it counts as failed (default: 1800)
  BENCH_KEEP=1       keep the work directory (repositories, mounts' data) afterwards

exit status: 0 when every target is met, 1 when a figure could not be
measured (coffer failed, a tool is missing), 2 when all were measured but
some target was missed.
EOF
}

quick=0
for arg in "$@"; do
	case $arg in
	--quick) quick=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench: unknown argument $arg" >&2; usage >&2; exit 64 ;;
	esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")

if ((quick)); then
	: "${BENCH_SIZE_MB:=64}" "${BENCH_BIG_MB:=256}"
fi
BENCH_DIR=${BENCH_DIR:-/var/tmp/coffer-bench}
SIZE_MB=${BENCH_SIZE_MB:-1024}
BIG_MB=${BENCH_BIG_MB:-4096}
SKIP_S3=${BENCH_SKIP_S3:-0}
SKIP_RCLONE=${BENCH_SKIP_RCLONE:-0}
SKIP_GOCRYPTFS=${BENCH_SKIP_GOCRYPTFS:-0}
STEP_TIMEOUT=${BENCH_TIMEOUT:-1800}
KEEP=${BENCH_KEEP:-0}
COFFER_READ=${BENCH_COFFER_READ:-mount}
COFFER_BIN=${COFFER_BIN:-$top/bin/coffer}
COFFER_VERSITYGW=${COFFER_VERSITYGW:-$top/.cache/bin/versitygw}
read -r -a COFFER_S3_FLAGS <<<"${COFFER_S3_FLAGS---insecure-http --path-style}"

goroot=$(go env GOROOT 2>/dev/null || echo /usr/local/go)
if [[ -z ${BENCH_TREE:-} ]]; then
	if ((quick)); then BENCH_TREE=$goroot/src/crypto; else BENCH_TREE=$goroot/src; fi
fi
TREE=${BENCH_TREE%/}

# ---------------------------------------------------------------------------
# bookkeeping: processes and mounts we own, results, failures

PIDS=()   # every background process this script started
MOUNTS=() # every mount point this script mounted on
WORK=""
LOGS=""
declare -A VAL=()   # measured figures by key
declare -A FAILR=() # why a figure could not be measured, by key
ERR=""              # reason of the last failed step
DROP_OK=1

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'; }
mibps() { awk -v mb="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", mb / s; else print "inf" }'; }
say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# warn MESSAGE: something went wrong that did not stop a figure; listed
# under the table.
WARNINGS=()
warn() {
	WARNINGS+=("$1")
	say "  warning: $1"
}
setval() { VAL[$1]=$2; say "  $1 = $2"; }
fail() {
	FAILR[$1]=$2
	say "  $1: FAILED ($2)"
}
# failall REASON KEY...: marks every KEY as failed for one reason.
failall() {
	local reason=$1 k
	shift
	for k in "$@"; do [[ -n ${VAL[$k]:-} ]] || FAILR[$k]=$reason; done
	say "  FAILED ($reason): $*"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	[[ -r /proc/$1/stat ]] || return 1
	st=$(</proc/"$1"/stat) 2>/dev/null || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# reap PID SECONDS: waits for a child of ours to exit; 1 if it is still alive.
reap() {
	local pid=$1 deadline
	deadline=$(($(date +%s) + $2))
	while alive "$pid"; do
		(($(date +%s) < deadline)) || return 1
		sleep 0.1
	done
	REAP_RC=0
	wait "$pid" 2>/dev/null || REAP_RC=$?
	return 0
}
REAP_RC=0

# stop PID: ends a process we started: TERM, then KILL after 10 s.
stop() {
	local pid=$1
	alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	reap "$pid" 10 && return 0
	kill -KILL "$pid" 2>/dev/null || true
	reap "$pid" 5 || true
}

# lastlines LOG: the end of a step's log on one line, without our "+ cmd" lines.
lastlines() {
	grep -v '^+ ' "$1" 2>/dev/null | tail -n 3 | tr '\n' ' ' | cut -c1-240
}

# run NAME CMD...: runs CMD under the step timeout, its output in
# $LOGS/NAME.log. On failure sets ERR and returns 1.
run() {
	local name=$1 rc=0
	shift
	local log=$LOGS/$name.log
	printf '+ %s\n' "$*" >>"$log"
	timeout -k 10 "$STEP_TIMEOUT" "$@" >>"$log" 2>&1 || rc=$?
	((rc == 0)) && return 0
	if ((rc == 124 || rc == 137)); then
		ERR="$name: timed out after ${STEP_TIMEOUT}s"
	else
		ERR="$name: exit $rc: $(lastlines "$log")"
	fi
	return 1
}

# bg NAME CMD...: starts CMD in the background, output in $LOGS/NAME.log;
# its PID lands in BG_PID and in PIDS.
BG_PID=""
bg() {
	local name=$1
	shift
	printf '+ %s &\n' "$*" >>"$LOGS/$name.log"
	"$@" >>"$LOGS/$name.log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_mount MOUNTPOINT PID NAME: waits up to 30 s for the mount to appear.
wait_mount() {
	local mnt=$1 pid=$2 name=$3 deadline=$(($(date +%s) + 30))
	while (($(date +%s) < deadline)); do
		mountpoint -q "$mnt" && return 0
		if ! alive "$pid"; then
			wait "$pid" 2>/dev/null || true
			ERR="$name: exited before mounting: $(lastlines "$LOGS/$name.log")"
			return 1
		fi
		sleep 0.1
	done
	ERR="$name: not mounted after 30 s"
	stop "$pid"
	return 1
}

# fuse_umount MOUNTPOINT PID: unmounts a FUSE mount and waits for its daemon.
fuse_umount() {
	local mnt=$1 pid=$2 i
	for ((i = 0; i < 20; i++)); do
		mountpoint -q "$mnt" || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.5
	done
	if mountpoint -q "$mnt"; then fusermount3 -uz "$mnt" 2>/dev/null || true; fi
	reap "$pid" 30 || stop "$pid"
}

drop_caches() {
	sync
	if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		((DROP_OK == 0)) || say "warning: cannot drop caches (not root?): cold figures are warm"
		DROP_OK=0
	fi
}

# warm FILE_OR_DIR: reads it so the source side of a copy is in RAM.
warm() {
	if [[ -d $1 ]]; then
		tar -C "$1" -cf - . | cat >/dev/null
	else
		cat "$1" >/dev/null
	fi
}

free_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

cleanup() {
	local rc=$? i m pid
	set +e
	trap - EXIT INT TERM
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[i]}
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	for pid in "${PIDS[@]}"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		reap "$pid" 10 || { kill -KILL "$pid" 2>/dev/null; reap "$pid" 5; }
	done
	if [[ -n $WORK && -d $WORK ]]; then
		if ((KEEP)); then
			say "work directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# set-up

if ((EUID != 0)); then
	echo "bench: needs root (FUSE mounts, /proc/sys/vm/drop_caches)" >&2
	exit 1
fi
for t in dd rsync fusermount3 mountpoint timeout awk tar curl; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps installs it)" >&2; exit 1; }
done
[[ -d $TREE ]] || { echo "bench: tree $TREE not found (set BENCH_TREE)" >&2; exit 1; }

mkdir -p "$BENCH_DIR/src" "$BENCH_DIR/results"
WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH_DIR/results/$stamp.md

# ver CMD...: the first line CMD prints, or "NAME missing".
ver() {
	local v
	v=$("$@" 2>/dev/null | head -n 1) || true
	echo "${v:-$1 missing}"
}

machine() {
	local cpu mem fs kern tree_files tree_mb
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	fs=$(findmnt -n -o FSTYPE,SOURCE --target "$BENCH_DIR" 2>/dev/null | tr -s ' ' || stat -f -c %T "$BENCH_DIR")
	kern=$(uname -sr)
	tree_files=$(find "$TREE" -type f | wc -l)
	tree_mb=$(du -sm "$TREE" | cut -f1)
	echo "machine:   $(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM"
	echo "kernel:    $kern"
	echo "BENCH_DIR: $BENCH_DIR ($fs), $(df -h --output=avail "$BENCH_DIR" | tail -1 | tr -d ' ') free"
	echo "sizes:     write/read ${SIZE_MB} MiB, big write ${BIG_MB} MiB; tree $TREE ($tree_files files, $tree_mb MiB)"
	echo "tools:     $(ver rsync --version | awk '{print "rsync", $3}'); $(ver gocryptfs -version | cut -d';' -f1); $(ver rclone version); $(ver restic version | cut -d' ' -f1-2)"
	if [[ -x $COFFER_BIN ]]; then
		local v
		v=$(timeout 5 "$COFFER_BIN" version 2>/dev/null | head -1 || true)
		echo "coffer:    $COFFER_BIN (${v:-version unknown})"
	else
		echo "coffer:    $COFFER_BIN (missing)"
	fi
}
MACHINE=$(machine)
case $(findmnt -n -o FSTYPE --target "$BENCH_DIR" 2>/dev/null) in
tmpfs | ramfs) say "warning: BENCH_DIR $BENCH_DIR is in memory: its figures say nothing about a disk" ;;
esac
echo "== coffer benchmark $stamp"
echo "$MACHINE"
echo

# Random sources are made once and kept in BENCH_DIR/src, so that the random
# generator is never what a write figure measures.
make_source() {
	local mb=$1 f=$BENCH_DIR/src/random-${1}M.bin
	if [[ ! -f $f || $(stat -c %s "$f") -ne $((mb * 1048576)) ]]; then
		say "making $mb MiB of random data in $f"
		dd if=/dev/urandom of="$f.tmp" bs=1M count="$mb" iflag=fullblock status=none
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}
SRC=$(make_source "$SIZE_MB")

# coffer's readiness: every coffer figure fails with this reason when set.
COFFER_DOWN=""
if [[ ! -e $COFFER_BIN ]]; then
	COFFER_DOWN="binary not found at $COFFER_BIN"
elif [[ ! -x $COFFER_BIN ]]; then
	COFFER_DOWN="$COFFER_BIN is not executable"
fi
KEY=$WORK/coffer.key
if [[ -z $COFFER_DOWN ]] && ! run coffer-key "$COFFER_BIN" key generate "$KEY"; then
	COFFER_DOWN="key generate failed: $ERR"
fi
# A fresh --cache-dir per daemon keeps cold reads cold, where coffer has one
# (without it, its block cache lives in memory and dies with the daemon).
COFFER_CACHE_DIR=0
if [[ -z $COFFER_DOWN ]] && "$COFFER_BIN" mount --help 2>&1 | grep -q -- '--cache-dir'; then
	COFFER_CACHE_DIR=1
fi
SRC_BIG=""
if [[ -z $COFFER_DOWN ]]; then SRC_BIG=$(make_source "$BIG_MB"); fi

# coffer_mount NAME MOUNTPOINT CACHEDIR ARGS...: starts `coffer mount` in the
# background and waits for it; its PID lands in COFFER_PID.
COFFER_PID=""
declare -A MOUNT_LOG=() # the log name of each coffer daemon, by PID
coffer_mount() {
	local name=$1 mnt=$2 cache=$3
	shift 3
	mkdir -p "$mnt"
	local extra=()
	if ((COFFER_CACHE_DIR)); then
		mkdir -p "$cache"
		extra=(--cache-dir "$cache")
	fi
	MOUNTS+=("$mnt")
	bg "$name" "${COFFER_ENV[@]}" "$COFFER_BIN" mount "$@" --key-file "$KEY" "${extra[@]}" "$mnt"
	COFFER_PID=$BG_PID
	MOUNT_LOG[$COFFER_PID]=$name
	wait_mount "$mnt" "$COFFER_PID" "$name"
}

# coffer_umount NAME MOUNTPOINT PID: `coffer umount`, then the daemon must
# exit by itself, with status 0, and the mount must be gone. A failing
# `coffer umount` whose daemon still finishes cleanly is only a warning.
coffer_umount() {
	local name=$1 mnt=$2 pid=$3 grace=$STEP_TIMEOUT
	if ! run "$name" "${COFFER_ENV[@]}" "$COFFER_BIN" umount "$mnt"; then
		# What a user does next: the plain FUSE unmount.
		warn "$ERR (unmounted with fusermount3 -u instead)"
		fusermount3 -u "$mnt" >>"$LOGS/$name.log" 2>&1 || true
		grace=60
	fi
	if ! reap "$pid" "$grace"; then
		ERR="$name: daemon $pid still running ${grace}s after coffer umount"
		fuse_umount "$mnt" "$pid"
		return 1
	fi
	if mountpoint -q "$mnt"; then
		fuse_umount "$mnt" "$pid"
		ERR="$name: still mounted after the daemon exited"
		return 1
	fi
	if ((REAP_RC != 0)); then
		ERR="$name: the daemon exited with status $REAP_RC: $(lastlines "$LOGS/${MOUNT_LOG[$pid]}.log")"
		return 1
	fi
}

# hwm_mib PID: the process's peak resident set (VmHWM) in MiB.
hwm_mib() {
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

COFFER_ENV=(env) # no extra environment for the local repository

# ---------------------------------------------------------------------------
# 1. write SIZE_MB from the warm source, durably

say "1. write ${SIZE_MB} MiB"
mkdir -p "$WORK/plain"
warm "$SRC"
t0=$(now)
if run plain-write dd if="$SRC" of="$WORK/plain/big.bin" bs=1M conv=fsync status=none; then
	setval plain_write "$(mibps "$SIZE_MB" "$(since "$t0")")"
else
	fail plain_write "$ERR"
fi

GC_MNT=$WORK/gocryptfs.mnt
GC_PID=""
gocryptfs_up() {
	command -v gocryptfs >/dev/null || { ERR="gocryptfs not installed"; return 1; }
	mkdir -p "$WORK/gocryptfs.cipher" "$GC_MNT"
	printf 'bench-passphrase\n' >"$WORK/gocryptfs.pass"
	run gocryptfs-init gocryptfs -init -q -passfile "$WORK/gocryptfs.pass" "$WORK/gocryptfs.cipher" || return 1
	MOUNTS+=("$GC_MNT")
	bg gocryptfs gocryptfs -fg -q -passfile "$WORK/gocryptfs.pass" "$WORK/gocryptfs.cipher" "$GC_MNT"
	GC_PID=$BG_PID
	wait_mount "$GC_MNT" "$GC_PID" gocryptfs
}
gc_keys=(gc_write gc_rsync gc_rsync2 gc_read gc_ls)
if ((SKIP_GOCRYPTFS)); then
	failall "skipped (BENCH_SKIP_GOCRYPTFS=1)" "${gc_keys[@]}"
elif ! gocryptfs_up; then
	failall "$ERR" "${gc_keys[@]}"
else
	warm "$SRC"
	t0=$(now)
	if run gocryptfs-write dd if="$SRC" of="$GC_MNT/big.bin" bs=1M conv=fsync status=none; then
		setval gc_write "$(mibps "$SIZE_MB" "$(since "$t0")")"
	else
		fail gc_write "$ERR"
	fi
fi

C_MNT=$WORK/coffer.mnt
C_PID=""
coffer_keys=(coffer_write coffer_rsync coffer_rsync2 coffer_read coffer_ls rss_small rss_big coffer_big_write)
coffer_write() {
	run coffer-init "$COFFER_BIN" init --repo "$WORK/coffer.repo" --key-file "$KEY" || return 1
	coffer_mount coffer-mount "$C_MNT" "$WORK/coffer.cache" --repo "$WORK/coffer.repo" || return 1
	C_PID=$COFFER_PID
	warm "$SRC"
	local t0
	t0=$(now)
	run coffer-write dd if="$SRC" of="$C_MNT/big.bin" bs=1M conv=fsync status=none || return 1
	run coffer-snapshot "$COFFER_BIN" snapshot "$C_MNT" || return 1
	setval coffer_write "$(mibps "$SIZE_MB" "$(since "$t0")")"
	setval rss_small "$(hwm_mib "$C_PID")"
}
if [[ -n $COFFER_DOWN ]]; then
	failall "$COFFER_DOWN" "${coffer_keys[@]}"
elif ! coffer_write; then
	failall "$ERR" "${coffer_keys[@]}"
fi

# ---------------------------------------------------------------------------
# 2. rsync -a of the tree, then an unchanged re-run

say "2. rsync -a $TREE"

# rsync_into NAME KEY DST [FINISH...]: times `rsync -a TREE/ DST/` followed by
# FINISH (the step that makes the copy durable: sync, coffer snapshot, ...).
rsync_into() {
	local name=$1 key=$2 dst=$3 t0
	shift 3
	warm "$TREE"
	t0=$(now)
	if run "$name" rsync -a "$TREE/" "$dst/" && { (($# == 0)) || run "$name" "$@"; }; then
		setval "$key" "$(since "$t0")"
	else
		fail "$key" "$ERR"
	fi
}

RC_MNT=$WORK/rclone.mnt
RC_PID=""
RC_PORT=""
rclone_up() {
	command -v rclone >/dev/null || { ERR="rclone not installed"; return 1; }
	local conf=$WORK/rclone.conf pass
	pass=$(rclone obscure bench-passphrase)
	mkdir -p "$WORK/rclone.cipher" "$WORK/rclone.cache" "$RC_MNT"
	cat >"$conf" <<EOF
[benchcrypt]
type = crypt
remote = $WORK/rclone.cipher
password = $pass
EOF
	RC_PORT=$(free_port) || { ERR="no free port for rclone's rc"; return 1; }
	MOUNTS+=("$RC_MNT")
	bg rclone rclone --config "$conf" mount benchcrypt: "$RC_MNT" \
		--vfs-cache-mode writes --vfs-write-back 1s --cache-dir "$WORK/rclone.cache" \
		--rc --rc-addr "127.0.0.1:$RC_PORT" --rc-no-auth
	RC_PID=$BG_PID
	wait_mount "$RC_MNT" "$RC_PID" rclone
}
# rclone_flushed: waits until rclone's VFS cache has uploaded everything, so
# that rclone's time, like the others', ends when the copy is stored.
rclone_flushed() {
	local stats n
	while true; do
		stats=$(rclone rc --url "http://127.0.0.1:$RC_PORT/" vfs/stats 2>&1) || { echo "$stats"; return 1; }
		n=$(grep -oE '"uploads(InProgress|Queued)": *[0-9]+' <<<"$stats" |
			awk -F: '{ s += $2; c++ } END { if (c == 2) print s }')
		[[ -n $n ]] || { echo "cannot read uploads from vfs/stats: $stats"; return 1; }
		((n == 0)) && return 0
		sleep 0.2
	done
}

rsync_into plain-rsync plain_rsync "$WORK/plain/go" sync
if [[ -z $COFFER_DOWN && -z ${FAILR[coffer_rsync]:-} ]]; then
	rsync_into coffer-rsync coffer_rsync "$C_MNT/go" "$COFFER_BIN" snapshot "$C_MNT"
fi
if [[ -n $GC_PID ]]; then
	rsync_into gocryptfs-rsync gc_rsync "$GC_MNT/go" sync
fi
rc_keys=(rc_rsync rc_rsync2)
if ((SKIP_RCLONE)); then
	failall "skipped (BENCH_SKIP_RCLONE=1)" "${rc_keys[@]}"
elif ! rclone_up; then
	failall "$ERR" "${rc_keys[@]}"
else
	export -f rclone_flushed
	rsync_into rclone-rsync rc_rsync "$RC_MNT/go" env RC_PORT="$RC_PORT" bash -c rclone_flushed
fi

say "2b. unchanged re-run"
rsync_into plain-rsync2 plain_rsync2 "$WORK/plain/go" sync
if [[ -z $COFFER_DOWN && -n ${VAL[coffer_rsync]:-} ]]; then
	rsync_into coffer-rsync2 coffer_rsync2 "$C_MNT/go" "$COFFER_BIN" snapshot "$C_MNT"
elif [[ -z $COFFER_DOWN && -z ${FAILR[coffer_rsync2]:-} ]]; then
	fail coffer_rsync2 "first rsync failed"
fi
if [[ -n $GC_PID && -n ${VAL[gc_rsync]:-} ]]; then
	rsync_into gocryptfs-rsync2 gc_rsync2 "$GC_MNT/go" sync
fi
if [[ -n $RC_PID ]]; then
	if [[ -n ${VAL[rc_rsync]:-} ]]; then
		rsync_into rclone-rsync2 rc_rsync2 "$RC_MNT/go" env RC_PORT="$RC_PORT" bash -c rclone_flushed
	else
		fail rc_rsync2 "first rsync failed"
	fi
	fuse_umount "$RC_MNT" "$RC_PID"
fi

# The head mount is done: a clean unmount commits and the daemon exits.
if [[ -n $C_PID ]]; then
	if ! coffer_umount coffer-umount "$C_MNT" "$C_PID"; then
		failall "$ERR" coffer_read coffer_ls
	fi
fi

# ---------------------------------------------------------------------------
# 3 and 4. cold read of the big file and cold ls -lR of the tree, from the
# snapshot, each through a fresh daemon with an empty cache

say "3. cold read of ${SIZE_MB} MiB, 4. cold ls -lR"

# cold_read NAME KEY FILE
cold_read() {
	local name=$1 key=$2 f=$3 t0
	drop_caches
	t0=$(now)
	if run "$name" dd if="$f" of=/dev/null bs=1M status=none; then
		setval "$key" "$(mibps "$SIZE_MB" "$(since "$t0")")"
	else
		fail "$key" "$ERR"
	fi
}
# cold_ls NAME KEY DIR
cold_ls() {
	local name=$1 key=$2 d=$3 t0 rc=0
	drop_caches
	t0=$(now)
	timeout -k 10 "$STEP_TIMEOUT" ls -lR "$d" >/dev/null 2>>"$LOGS/$name.log" || rc=$?
	if ((rc == 0)); then
		setval "$key" "$(since "$t0")"
	else
		fail "$key" "$name: ls -lR exit $rc: $(lastlines "$LOGS/$name.log")"
	fi
}

cold_read plain-read plain_read "$WORK/plain/big.bin"
cold_ls plain-ls plain_ls "$WORK/plain/go"
if [[ -n $GC_PID ]]; then
	[[ -n ${VAL[gc_write]:-} ]] && cold_read gocryptfs-read gc_read "$GC_MNT/big.bin"
	[[ -n ${VAL[gc_rsync]:-} ]] && cold_ls gocryptfs-ls gc_ls "$GC_MNT/go"
	[[ -n ${VAL[gc_write]:-} ]] || fail gc_read "write failed"
	[[ -n ${VAL[gc_rsync]:-} ]] || fail gc_ls "rsync failed"
	fuse_umount "$GC_MNT" "$GC_PID"
fi

# coffer_snapshot_open NAME MOUNTPOINT: a fresh daemon on the latest snapshot;
# SNAP_ROOT is the directory that holds the snapshot's tree.
SNAP_ROOT=""
coffer_snapshot_open() {
	local name=$1 mnt=$2
	rm -rf "$WORK/$name.cache"
	if [[ $COFFER_READ == dir ]]; then
		coffer_mount "$name" "$mnt" "$WORK/$name.cache" --repo "$WORK/coffer.repo" || return 1
		SNAP_ROOT=$mnt/.snapshots/latest
	else
		coffer_mount "$name" "$mnt" "$WORK/$name.cache" --repo "$WORK/coffer.repo" --snapshot latest || return 1
		SNAP_ROOT=$mnt
	fi
}
coffer_reads() {
	local pid
	if [[ -n ${VAL[coffer_rsync]:-} && -z ${FAILR[coffer_ls]:-} ]]; then
		if coffer_snapshot_open coffer-snap-ls "$WORK/coffer-snap-ls.mnt"; then
			pid=$COFFER_PID
			cold_ls coffer-ls coffer_ls "$SNAP_ROOT/go"
			coffer_umount coffer-snap-ls-umount "$WORK/coffer-snap-ls.mnt" "$pid" || warn "$ERR"
		else
			fail coffer_ls "$ERR"
		fi
	fi
	[[ -n ${VAL[coffer_rsync]:-} ]] || fail coffer_ls "rsync into coffer failed"
	if [[ -z ${FAILR[coffer_read]:-} ]]; then
		if coffer_snapshot_open coffer-snap-read "$WORK/coffer-snap-read.mnt"; then
			pid=$COFFER_PID
			cold_read coffer-read coffer_read "$SNAP_ROOT/big.bin"
			# Not timed: the bytes read back must be the bytes written.
			if [[ -n ${VAL[coffer_read]:-} ]] && ! cmp -s "$SRC" "$SNAP_ROOT/big.bin"; then
				unset "VAL[coffer_read]"
				fail coffer_read "the snapshot's big.bin differs from what was written"
			fi
			coffer_umount coffer-snap-read-umount "$WORK/coffer-snap-read.mnt" "$pid" || warn "$ERR"
		else
			fail coffer_read "$ERR"
		fi
	fi
}
if [[ -z $COFFER_DOWN && -n ${VAL[coffer_write]:-} ]]; then
	coffer_reads
fi

# ---------------------------------------------------------------------------
# 5. the daemon's peak memory while writing BIG_MB, in a daemon of its own
# (the SIZE_MB figure was sampled in the head mount of figure 1)

say "5. peak RSS writing ${BIG_MB} MiB"
coffer_big() {
	local mnt=$WORK/coffer-big.mnt pid t0
	run coffer-big-init "$COFFER_BIN" init --repo "$WORK/coffer-big.repo" --key-file "$KEY" || return 1
	coffer_mount coffer-big-mount "$mnt" "$WORK/coffer-big.cache" --repo "$WORK/coffer-big.repo" || return 1
	pid=$COFFER_PID
	warm "$SRC_BIG"
	t0=$(now)
	run coffer-big-write dd if="$SRC_BIG" of="$mnt/big.bin" bs=1M conv=fsync status=none || return 1
	run coffer-big-snapshot "$COFFER_BIN" snapshot "$mnt" || return 1
	setval coffer_big_write "$(mibps "$BIG_MB" "$(since "$t0")")"
	setval rss_big "$(hwm_mib "$pid")"
	coffer_umount coffer-big-umount "$mnt" "$pid" || warn "$ERR"
	rm -rf "$WORK/coffer-big.repo" "$WORK/coffer-big.cache"
}
if [[ -z $COFFER_DOWN && -z ${FAILR[rss_big]:-} ]]; then
	coffer_big || failall "$ERR" rss_big coffer_big_write
fi

# ---------------------------------------------------------------------------
# 6. S3: coffer and restic against the same versitygw

s3_keys=(s3_coffer_write s3_coffer_rsync s3_coffer_rsync2 rss_s3 s3_restic_write s3_restic_tree s3_restic_tree2)
restore_keys=(s3_restic_restore s3_coffer_restore s3_coffer_cp)
VGW_PID=""
S3_PORT=""
S3_AK=benchaccess
S3_SK=bench-secret-key-0123456789
S3_EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# curl signs with SigV4 itself; versitygw wants the payload hash header too.
S3_CURL=(curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK"
	-H "x-amz-content-sha256: $S3_EMPTY_SHA")
versitygw_up() {
	[[ -x $COFFER_VERSITYGW ]] || { ERR="versitygw not found at $COFFER_VERSITYGW (make versitygw)"; return 1; }
	S3_PORT=$(free_port) || { ERR="no free port for versitygw"; return 1; }
	mkdir -p "$WORK/s3.root" "$WORK/s3.versions"
	bg versitygw "$COFFER_VERSITYGW" --access "$S3_AK" --secret "$S3_SK" --port "127.0.0.1:$S3_PORT" \
		posix --versioning-dir "$WORK/s3.versions" "$WORK/s3.root"
	VGW_PID=$BG_PID
	local i
	for ((i = 0; i < 150; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
		alive "$VGW_PID" || { ERR="versitygw exited: $(lastlines "$LOGS/versitygw.log")"; return 1; }
		sleep 0.1
	done
	# The bucket coffer writes to has object lock (and so versioning) on,
	# like the production buckets the design asks for.
	run s3-mkbucket "${S3_CURL[@]}" -X PUT -H 'x-amz-bucket-object-lock-enabled: true' \
		"http://127.0.0.1:$S3_PORT/coffer-bench" || return 1
	run s3-lockcheck "${S3_CURL[@]}" "http://127.0.0.1:$S3_PORT/coffer-bench?object-lock=" || return 1
	grep -q '<ObjectLockEnabled>Enabled' "$LOGS/s3-lockcheck.log" ||
		{ ERR="versitygw: object lock not enabled on coffer-bench"; return 1; }
	run s3-mkbucket "${S3_CURL[@]}" -X PUT "http://127.0.0.1:$S3_PORT/restic-bench" || return 1
}

s3_coffer() {
	local mnt=$WORK/coffer-s3.mnt pid t0 repo=s3://coffer-bench/bench
	COFFER_ENV=(env AWS_ACCESS_KEY_ID="$S3_AK" AWS_SECRET_ACCESS_KEY="$S3_SK" AWS_REGION=us-east-1
		AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3_PORT")
	run coffer-s3-init "${COFFER_ENV[@]}" "$COFFER_BIN" init --repo "$repo" --key-file "$KEY" \
		"${COFFER_S3_FLAGS[@]}" || return 1
	coffer_mount coffer-s3-mount "$mnt" "$WORK/coffer-s3.cache" --repo "$repo" "${COFFER_S3_FLAGS[@]}" || return 1
	pid=$COFFER_PID
	warm "$SRC"
	t0=$(now)
	if run coffer-s3-write dd if="$SRC" of="$mnt/big.bin" bs=1M conv=fsync status=none &&
		run coffer-s3-write "${COFFER_ENV[@]}" "$COFFER_BIN" snapshot "$mnt"; then
		setval s3_coffer_write "$(since "$t0")"
	else
		fail s3_coffer_write "$ERR"
	fi
	rsync_into coffer-s3-rsync s3_coffer_rsync "$mnt/go" "${COFFER_ENV[@]}" "$COFFER_BIN" snapshot "$mnt"
	if [[ -n ${VAL[s3_coffer_rsync]:-} ]]; then
		rsync_into coffer-s3-rsync2 s3_coffer_rsync2 "$mnt/go" "${COFFER_ENV[@]}" "$COFFER_BIN" snapshot "$mnt"
	else
		fail s3_coffer_rsync2 "first rsync failed"
	fi
	setval rss_s3 "$(hwm_mib "$pid")"
	coffer_umount coffer-s3-umount "$mnt" "$pid" || warn "$ERR"
	COFFER_ENV=(env)
}

s3_restic() {
	command -v restic >/dev/null || { ERR="restic not installed"; return 1; }
	local r=(env AWS_ACCESS_KEY_ID="$S3_AK" AWS_SECRET_ACCESS_KEY="$S3_SK"
		RESTIC_PASSWORD=bench-passphrase RESTIC_CACHE_DIR="$WORK/restic.cache"
		restic -r "s3:http://127.0.0.1:$S3_PORT/restic-bench")
	run restic-init "${r[@]}" init || return 1
	local t0
	warm "$SRC"
	t0=$(now)
	if run restic-write "${r[@]}" backup "$SRC"; then
		setval s3_restic_write "$(since "$t0")"
	else
		fail s3_restic_write "$ERR"
	fi
	warm "$TREE"
	t0=$(now)
	if run restic-tree "${r[@]}" backup "$TREE"; then
		setval s3_restic_tree "$(since "$t0")"
		t0=$(now)
		if run restic-tree2 "${r[@]}" backup "$TREE"; then
			setval s3_restic_tree2 "$(since "$t0")"
		else
			fail s3_restic_tree2 "$ERR"
		fi
	else
		fail s3_restic_tree "$ERR"
		fail s3_restic_tree2 "first backup failed"
	fi
}

# Restores of the tree the steps above stored, each cold (caches dropped,
# a fresh output directory): restic restore, coffer restore, and cp -a out
# of a freshly started `coffer mount --snapshot latest`.
s3_restore() {
	local t0 repo=s3://coffer-bench/bench mnt=$WORK/coffer-s3-snap.mnt pid
	COFFER_ENV=(env AWS_ACCESS_KEY_ID="$S3_AK" AWS_SECRET_ACCESS_KEY="$S3_SK" AWS_REGION=us-east-1
		AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3_PORT")
	if [[ -n ${VAL[s3_restic_tree]:-} ]]; then
		drop_caches
		t0=$(now)
		if run restic-restore env AWS_ACCESS_KEY_ID="$S3_AK" AWS_SECRET_ACCESS_KEY="$S3_SK" \
			RESTIC_PASSWORD=bench-passphrase RESTIC_CACHE_DIR="$WORK/restic.cache" \
			restic -r "s3:http://127.0.0.1:$S3_PORT/restic-bench" restore latest --target "$WORK/restic.restore"; then
			setval s3_restic_restore "$(since "$t0")"
		else
			fail s3_restic_restore "$ERR"
		fi
	else
		fail s3_restic_restore "restic backup of the tree failed"
	fi
	if [[ -z ${VAL[s3_coffer_rsync]:-} ]]; then
		failall "coffer rsync of the tree failed" s3_coffer_restore s3_coffer_cp
		COFFER_ENV=(env)
		return 0
	fi
	drop_caches
	t0=$(now)
	if run coffer-s3-restore "${COFFER_ENV[@]}" "$COFFER_BIN" restore --repo "$repo" --key-file "$KEY" \
		"${COFFER_S3_FLAGS[@]}" --quiet latest:/go "$WORK/coffer.restore"; then
		setval s3_coffer_restore "$(since "$t0")"
	else
		fail s3_coffer_restore "$ERR"
	fi
	drop_caches
	if coffer_mount coffer-s3-snap "$mnt" "$WORK/coffer-s3-snap.cache" --repo "$repo" "${COFFER_S3_FLAGS[@]}" --snapshot latest; then
		pid=$COFFER_PID
		t0=$(now)
		if run coffer-s3-cp cp -a "$mnt/go" "$WORK/coffer.cp"; then
			setval s3_coffer_cp "$(since "$t0")"
		else
			fail s3_coffer_cp "$ERR"
		fi
		coffer_umount coffer-s3-snap-umount "$mnt" "$pid" || warn "$ERR"
	else
		fail s3_coffer_cp "$ERR"
	fi
	COFFER_ENV=(env)
}

if ((SKIP_S3)); then
	failall "skipped (BENCH_SKIP_S3=1)" "${s3_keys[@]}" "${restore_keys[@]}"
else
	say "6. S3 (versitygw): coffer and restic"
	if ! versitygw_up; then
		failall "$ERR" "${s3_keys[@]}" "${restore_keys[@]}"
	else
		if [[ -n $COFFER_DOWN ]]; then
			failall "$COFFER_DOWN" s3_coffer_write s3_coffer_rsync s3_coffer_rsync2 rss_s3
		elif ! s3_coffer; then
			COFFER_ENV=(env)
			failall "$ERR" s3_coffer_write s3_coffer_rsync s3_coffer_rsync2 rss_s3
		fi
		s3_restic || failall "$ERR" s3_restic_write s3_restic_tree s3_restic_tree2
		s3_restore
	fi
	[[ -n $VGW_PID ]] && stop "$VGW_PID"
fi

# ---------------------------------------------------------------------------
# the table

# Every row: figure, name, value key, unit, then for a checked row the ratio
# (numerator key / denominator key), comparison and target.
#   plain rows:  "fig|name|key|unit"
#   ratio rows:  "fig|name|num/den|ratio|op target"
ROWS=(
	"1|write, plain ext4 (dd conv=fsync)|plain_write|MiB/s"
	"1|write, gocryptfs|gc_write|MiB/s"
	"1|write, coffer (dd conv=fsync + snapshot)|coffer_write|MiB/s"
	"1|coffer / plain write throughput|coffer_write/plain_write|ratio|>= 0.8"
	"1|coffer / gocryptfs write throughput|coffer_write/gc_write|ratio|>= 2"
	"2|rsync -a tree, plain ext4 (+ sync)|plain_rsync|s"
	"2|rsync -a tree, coffer (+ snapshot)|coffer_rsync|s"
	"2|rsync -a tree, gocryptfs (+ sync)|gc_rsync|s"
	"2|rsync -a tree, rclone crypt mount (+ upload)|rc_rsync|s"
	"2|coffer / plain rsync time|coffer_rsync/plain_rsync|ratio|<= 2"
	"2|unchanged re-run, plain ext4|plain_rsync2|s"
	"2|unchanged re-run, coffer (+ snapshot)|coffer_rsync2|s"
	"2|unchanged re-run, gocryptfs|gc_rsync2|s"
	"2|unchanged re-run, rclone crypt mount|rc_rsync2|s"
	"2|coffer / plain re-run time|coffer_rsync2/plain_rsync2|ratio|<= 2"
	"3|cold read, plain ext4|plain_read|MiB/s"
	"3|cold read, gocryptfs|gc_read|MiB/s"
	"3|cold read, coffer snapshot|coffer_read|MiB/s"
	"3|coffer / plain cold read throughput|coffer_read/plain_read|ratio|>= 0.8"
	"4|cold ls -lR tree, plain ext4|plain_ls|s"
	"4|cold ls -lR tree, gocryptfs|gc_ls|s"
	"4|cold ls -lR tree, coffer snapshot|coffer_ls|s"
	"4|coffer / plain ls -lR time|coffer_ls/plain_ls|ratio|<= 2"
	"5|coffer peak RSS writing ${SIZE_MB} MiB|rss_small|MiB|<= 256"
	"5|coffer peak RSS writing ${BIG_MB} MiB|rss_big|MiB|<= 256"
	"5|peak RSS ${BIG_MB} MiB / ${SIZE_MB} MiB|rss_big/rss_small|ratio|<= 1.25"
	"5|write ${BIG_MB} MiB, coffer (+ snapshot)|coffer_big_write|MiB/s"
	"6|S3 write ${SIZE_MB} MiB, coffer (+ snapshot)|s3_coffer_write|s"
	"6|S3 backup ${SIZE_MB} MiB, restic|s3_restic_write|s"
	"6|coffer / restic time, big file|s3_coffer_write/s3_restic_write|ratio"
	"6|S3 rsync tree, coffer (+ snapshot)|s3_coffer_rsync|s"
	"6|S3 backup tree, restic|s3_restic_tree|s"
	"6|coffer / restic time, tree|s3_coffer_rsync/s3_restic_tree|ratio"
	"6|S3 unchanged re-run, coffer|s3_coffer_rsync2|s"
	"6|S3 unchanged re-run, restic|s3_restic_tree2|s"
	"6|coffer / restic time, re-run|s3_coffer_rsync2/s3_restic_tree2|ratio"
	"6|coffer peak RSS on S3 (all of the above)|rss_s3|MiB"
	"6|S3 restore tree, restic restore|s3_restic_restore|s"
	"6|S3 restore tree, coffer restore|s3_coffer_restore|s"
	"6|S3 cp -a tree from a fresh snapshot mount|s3_coffer_cp|s"
	"6|coffer restore / restic restore time|s3_coffer_restore/s3_restic_restore|ratio|<= 1"
	"6|coffer restore / cp -a from the mount time|s3_coffer_restore/s3_coffer_cp|ratio|<= 0.5"
	"6|cp -a from the mount / restic restore time|s3_coffer_cp/s3_restic_restore|ratio|<= 2"
)

# Skipped rows (BENCH_SKIP_*) are shown but do not fail the run.
skipped() { [[ ${FAILR[$1]:-} == skipped* ]]; }

nfailed=0
nmissed=0
table=$(
	printf '| %-3s | %-46s | %10s | %-5s | %-8s | %-7s | %s\n' fig figure value unit target result note
	printf '|-----|------------------------------------------------|------------|-------|----------|---------|------\n'
	for row in "${ROWS[@]}"; do
		IFS='|' read -r fig name key unit target <<<"$row"
		value="" result="" note="" coffer_row=0 num="" den=""
		[[ $key == *coffer* || $key == rss_* ]] && coffer_row=1
		if [[ $key == */* ]]; then
			num=${key%/*} den=${key#*/}
			if [[ -n ${VAL[$num]:-} && -n ${VAL[$den]:-} ]]; then
				value=$(awk -v a="${VAL[$num]}" -v b="${VAL[$den]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')
			else
				bad=$num
				[[ -n ${VAL[$num]:-} ]] && bad=$den
				note="needs $bad: ${FAILR[$bad]:-not measured}"
				if skipped "$bad"; then result=skipped; else result=FAILED; fi
			fi
		elif [[ -n ${VAL[$key]:-} ]]; then
			value=${VAL[$key]}
		else
			if skipped "$key"; then result=skipped; else result=FAILED; fi
			note=${FAILR[$key]:-not measured}
		fi
		if [[ -n $value && -n $target ]]; then
			op=${target% *} want=${target#* }
			if awk -v v="$value" -v w="$want" -v op="$op" 'BEGIN { exit !((op == ">=") ? v >= w : v <= w) }'; then
				result=PASS
			else
				result=MISS
			fi
		elif [[ -n $value ]]; then
			result=info
		fi
		[[ $result == FAILED && $coffer_row == 1 && $note != coffer* ]] && note="coffer: FAILED ($note)"
		printf '| %-3s | %-46s | %10s | %-5s | %-8s | %-7s | %s\n' "$fig" "$name" "${value:--}" "$unit" "${target:--}" "$result" "$note"
	done
)
nfailed=$(grep -c '| FAILED  |' <<<"$table" || true)
nmissed=$(grep -c '| MISS    |' <<<"$table" || true)

notes=""
for w in "${WARNINGS[@]}"; do notes+="- warning: $w"$'\n'; done

echo
echo "$table"
echo
[[ -z $notes ]] || printf '%s\n' "$notes"
{
	echo "# coffer benchmark $stamp"
	echo
	echo '```'
	echo "$MACHINE"
	echo '```'
	echo
	echo "$table"
	[[ -z $notes ]] || printf '\n%s' "$notes"
} >"$RESULTS"
cp -r "$LOGS" "$BENCH_DIR/results/$stamp-logs"
echo "results: $RESULTS (logs in $BENCH_DIR/results/$stamp-logs)"

if ((nfailed > 0)); then
	echo "bench: $nfailed figure(s) could not be measured" >&2
	exit 1
fi
if ((nmissed > 0)); then
	echo "bench: $nmissed target(s) missed" >&2
	exit 2
fi
echo "bench: every target met"
exit 0
}
