#!/bin/bash
# make run: create (once) a local repository with a generated key file
# under .run/ (or $COFFER_RUN_DIR), and mount it in the foreground. Ctrl-C
# commits a snapshot and unmounts.
set -euo pipefail
COFFER=${1:-bin/coffer}
cd "$(dirname "$0")/.."
RUN=${COFFER_RUN_DIR:-$PWD/.run}
REPO=$RUN/repo
KEY=$RUN/key
MNT=$RUN/mnt
mkdir -p "$RUN" "$MNT"
chmod 700 "$RUN"
if [ ! -f "$KEY" ]; then
	"$COFFER" key generate "$KEY"
fi
# Ask coffer whether the repository is there: exit 4 means no repository
# at that place (see "Exit codes" in the README); anything else but 0 is an
# error to show.
status=0
check=$("$COFFER" key list --repo "$REPO" --key-file "$KEY" 2>&1 >/dev/null) || status=$?
case $status in
0) ;;
4) "$COFFER" init --repo "$REPO" --key-file "$KEY" ;;
*)
	echo "$check" >&2
	exit "$status"
	;;
esac
if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
	echo "coffer needs FUSE: run as root, or install fuse3 (apt-get install fuse3)" >&2
	exit 1
fi
cat <<MSG

  repository: $REPO   (key file: $KEY)
  mountpoint: $MNT

  From another shell, try:
    rsync -a /usr/share/doc/ $MNT/doc/
    $COFFER snapshot $MNT
    ls $MNT/.snapshots/ && ls $MNT/.snapshots/latest/doc | head
    echo hello > $MNT/note; echo again >> $MNT/note   # refused: files are write-once
    $COFFER snapshots --repo $REPO --key-file $KEY

  Ctrl-C here (or: $COFFER umount $MNT) commits a snapshot and unmounts.

MSG
exec "$COFFER" mount --repo "$REPO" --key-file "$KEY" "$MNT"
