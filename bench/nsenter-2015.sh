#!/usr/bin/env bash
# The 2015 technique (jpetazzo's "attach a volume to a running container"), written from its
# description, used as a baseline only. It exposes the whole host disk to the container for a
# moment, only works for paths on block-device filesystems, and leaves the device node behind
# unless cleaned up, as done here.
#   nsenter-2015.sh CONTAINER HOSTPATH CONTAINERPATH
set -euo pipefail
CONTAINER=$1 HOSTPATH=$2 CONTPATH=$3
REALPATH=$(readlink -f "$HOSTPATH")
FILESYS=$(df -P "$REALPATH" | tail -n 1 | awk '{print $6}')
DEV=$(awk -v fs="$FILESYS" '$5 == fs {print $3; exit}' /proc/self/mountinfo)
SUBROOT=$(awk -v fs="$FILESYS" '$5 == fs {print $4; exit}' /proc/self/mountinfo)
FSTYPE=$(awk -v fs="$FILESYS" '$5 == fs {for (i = 7; $i != "-"; i++); print $(i + 1); exit}' /proc/self/mountinfo)
SUBPATH=${REALPATH#"$FILESYS"}
SUBPATH=${SUBROOT%/}${SUBPATH}
DEVDEC=$(printf "%d %d" "${DEV%:*}" "${DEV#*:}")
PID=$(docker inspect --format '{{.State.Pid}}' "$CONTAINER")
# shellcheck disable=SC2086
nsenter --target "$PID" --mount --uts --ipc --net --pid -- sh -c "
  set -e
  [ -b /dev/dynvol-2015 ] || mknod -m 0600 /dev/dynvol-2015 b $DEVDEC
  mkdir -p /tmp/dynvol-2015-mnt
  mount -t $FSTYPE /dev/dynvol-2015 /tmp/dynvol-2015-mnt
  mkdir -p '$CONTPATH'
  mount -o bind '/tmp/dynvol-2015-mnt/$SUBPATH' '$CONTPATH'
  umount /tmp/dynvol-2015-mnt
  rmdir /tmp/dynvol-2015-mnt
  rm -f /dev/dynvol-2015
"
