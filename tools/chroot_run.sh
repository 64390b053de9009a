#!/usr/bin/env bash
# Run a command inside a Debian root made by debootstrap (`make .cache/trixie/.done`: Debian trixie with
# Python 3.13 and bpy 5.2.3, the Blender 5.2 LTS that official builds run), as root:
#
#     tools/chroot_run.sh ROOT COMMAND [ARG...]
#
# The command sees the repository at its own absolute path and starts in the current folder, so the
# paths of the zips, the sample and the tests are the same inside and outside. /proc, /sys, /dev and the
# repository are bind-mounted in a private mount namespace (unshare): the mounts exist only while the
# command runs and vanish with it (also on a crash or a kill), none is ever left on the host, and
# `rm -rf ROOT` can never reach through a mount into the host's /dev or the repository. The host's local
# pip folders (find-links, file:// indexes) are mounted read-only too; the PIP_* variables pass through.
# The exit code is the command's; 125 when the root or the privileges are missing.
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then  # second stage, already in the private mount namespace
    root=$2 repo=$3 cwd=$4
    shift 4
    mount --make-rprivate /
    mount --rbind /dev "$root/dev"
    mount --bind /proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mkdir -p "$root$repo"
    mount --bind "$repo" "$root$repo"
    # pip's local folders (find-links, file:// indexes) from PIP_* and the root's pip.conf files (the
    # host's, copied when the root was built), read-only at the same paths: pip in the root then uses the
    # host's pip set-up as it is.
    for place in ${PIP_FIND_LINKS:-} ${PIP_INDEX_URL:-} ${PIP_EXTRA_INDEX_URL:-} $(cat "$root"/etc/pip.conf \
            "$root"/etc/xdg/pip/pip.conf "$root"/root/.config/pip/pip.conf "$root"/root/.pip/pip.conf 2>/dev/null |
            sed -n 's/^[[:space:]]*\(find-links\|index-url\|extra-index-url\)[[:space:]]*=//p'); do
        place=${place#file://}
        place=${place%/}
        case "$place" in */simple) place=${place%/simple} ;; esac  # a simple index links to files beside it
        case "$root/" in "$place"/*) continue ;; esac  # never "/" or a folder holding the root
        case "$place" in
            /*) if [ -d "$place" ] && ! mountpoint -q "$root$place"; then
                    mkdir -p "$root$place"
                    mount --bind "$place" "$root$place"
                    mount -o remount,bind,ro "$root$place"
                fi ;;
        esac
    done
    # The command, from the current folder, with the root's own PATH (its python3 is 3.13).
    exec chroot "$root" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        /bin/sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
fi

if [ $# -lt 2 ]; then
    echo "usage: tools/chroot_run.sh ROOT COMMAND [ARG...]" >&2
    exit 125
fi
root=$(realpath -m "$1")
shift
if [ ! -x "$root/usr/bin/python3.13" ]; then
    echo "chroot_run: $root is not a built Debian root (make .cache/trixie/.done builds it)" >&2
    exit 125
fi
if [ "$(id -u)" != 0 ]; then
    echo "chroot_run: needs root (mount, chroot); run as root or skip the Blender 5.2 LTS checks" >&2
    exit 125
fi
repo=$(cd "$(dirname "$0")/.." && pwd -P)
cwd=$(pwd -P)
case "$cwd/" in
    "$repo"/*) ;;
    *) echo "chroot_run: run it from inside the repository ($repo), not $cwd" >&2; exit 125 ;;
esac
# Name resolution as on the host, for pip inside the root.
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
exec unshare --mount --propagation private -- "$repo/tools/chroot_run.sh" --inside "$root" "$repo" "$cwd" "$@"
