#!/bin/bash
# make run: create (once) a local repository with a generated key file
# under .run/, and mount it in the foreground. Ctrl-C commits a snapshot
# and unmounts.
set -euo pipefail
COFFER=${1:-bin/coffer}
cd "$(dirname "$0")/.."
RUN=$PWD/.run
REPO=$RUN/repo
KEY=$RUN/key
MNT=$RUN/mnt
mkdir -p "$RUN" "$MNT"
chmod 700 "$RUN"
if [ ! -f "$KEY" ]; then
	"$COFFER" key generate "$KEY"
fi
if [ ! -e "$REPO/config" ]; then
	"$COFFER" init --repo "$REPO" --key-file "$KEY"
fi
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
