#!/usr/bin/env bash
# fake-coffer.sh is a stand-in for the coffer binary that exists only to test
# bench.sh itself: `COFFER_BIN=bench/fake-coffer.sh bench/bench.sh --quick`.
# It speaks the subset of coffer's CLI that the benchmark uses and does the
# work with gocryptfs: a repository is a gocryptfs directory, a snapshot a
# copy of its ciphertext. Its figures say nothing about coffer.
set -euo pipefail

die() { echo "fake-coffer: $*" >&2; exit 1; }

# repo_dir REPO: a local directory for a local or s3:// repository.
repo_dir() {
	case $1 in
	s3://*)
		local port=${AWS_ENDPOINT_URL_S3##*:}
		echo "${FAKE_COFFER_S3_ROOT:-/var/tmp/fake-coffer-s3}/${port:-none}/${1#s3://}"
		;;
	*) echo "$1" ;;
	esac
}

# repo_of MOUNTPOINT: the repository directory behind a fake head mount.
repo_of() {
	local src
	src=$(findmnt -n -o SOURCE --mountpoint "$1") || die "$1 is not mounted"
	dirname "$src"
}

snapshot() {
	local repo id
	repo=$(repo_of "$1")
	[[ -d $repo/snaps ]] || die "$1 is not a head mount"
	sync
	id=$(date -u +%Y%m%dT%H%M%S%N)
	cp -a "$repo/data" "$repo/snaps/$id"
	ln -sfn "$id" "$repo/snaps/latest"
	echo "$id"
}

cmd=${1:-}
shift || true

# FAKE_COFFER_FAIL=COMMAND makes that command fail, and =hang makes a mount
# never appear, so that bench.sh's handling of a broken coffer can be tried.
case ${FAKE_COFFER_FAIL:-} in
"$cmd") die "$cmd failed (FAKE_COFFER_FAIL)" ;;
hang) [[ $cmd != mount ]] || exec sleep 3600 ;;
esac
case $cmd in
version) echo "fake-coffer (gocryptfs underneath)" ;;
key)
	[[ ${1:-} == generate && -n ${2:-} ]] || die "usage: key generate FILE"
	(umask 077 && head -c 32 /dev/urandom | base64 >"$2")
	;;
init)
	repo="" key=""
	while (($#)); do
		case $1 in
		--repo) repo=$2; shift 2 ;;
		--key-file) key=$2; shift 2 ;;
		*) shift ;;
		esac
	done
	dir=$(repo_dir "$repo")
	[[ ! -e $dir || -z $(ls -A "$dir") ]] || die "$dir is not empty"
	mkdir -p "$dir/data" "$dir/snaps"
	gocryptfs -init -q -passfile "$key" "$dir/data"
	;;
mount)
	repo="" key="" snap="" mnt=""
	while (($#)); do
		case $1 in
		--repo) repo=$2; shift 2 ;;
		--key-file) key=$2; shift 2 ;;
		--cache-dir | --endpoint) shift 2 ;;
		--snapshot) snap=$2; shift 2 ;;
		--*) shift ;;
		*) mnt=$1; shift ;;
		esac
	done
	dir=$(repo_dir "$repo")
	if [[ -n $snap ]]; then
		exec gocryptfs -fg -q -ro -passfile "$key" "$dir/snaps/$snap" "$mnt"
	fi
	exec gocryptfs -fg -q -passfile "$key" "$dir/data" "$mnt"
	;;
snapshot) snapshot "$1" ;;
umount)
	if [[ -d $(repo_of "$1")/snaps ]]; then snapshot "$1" >/dev/null; fi
	fusermount3 -u "$1"
	;;
*) die "unknown command $cmd" ;;
esac
