#!/usr/bin/env bash
# Runs a command in a fresh Debian SUITE machine: a new chroot unpacked from the cached minbase
# rootfs (scripts/debian-rootfs.sh makes it when missing), holding a copy of this source tree
# (the files git tracks or would add, as they are in the work tree; never build dirs), with
# /proc, /sys and /dev mounted, in its own mount and PID namespaces, so every mount and every
# process it started is gone when it returns. The command installs what it needs with apt-get,
# as on a new machine. Exits with the command's status. Needs root.
#
#   scripts/in-debian.sh trixie                                  the README's test command
#   scripts/in-debian.sh trixie env MESON_OPTS=-Dwerror=true ./scripts/test.sh
#   scripts/in-debian.sh --bind /var/tmp/renderer-bench trixie env BENCH_DIR=/var/tmp/renderer-bench \
#       ./bench/run.sh --out /var/tmp/renderer-bench/debian13.md   (the full command: PERFORMANCE.md)
#
# Options: --bind DIR (repeatable) binds a host directory at the same path inside, to share
# inputs or get results out; --keep leaves the chroot on disk and prints where.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binds=()
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --bind) binds+=("$(realpath -m "${2:?--bind needs a directory}")"); shift 2 ;;
    --keep) keep=1; shift ;;
    -*) echo "in-debian: unknown option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
suite=${1:?usage: in-debian.sh [--bind DIR]... [--keep] SUITE [COMMAND ARGS...]}
shift
[ $# -gt 0 ] || set -- ./scripts/test.sh
[ "$(id -u)" -eq 0 ] || { echo "in-debian: needs root (chroot, mounts)" >&2; exit 1; }

tarball=$("$root/scripts/debian-rootfs.sh" "$suite") || exit 1
chroot_dir=$(mktemp -d "/var/tmp/renderer-$suite.XXXXXX")
cleanup() {
  # The mounts lived in the namespace that ended with the command; refuse to delete through one
  # that somehow survived rather than remove the host's /dev or a bound directory's files.
  if findmnt -rn -o TARGET | grep -q "^$chroot_dir/"; then
    echo "in-debian: mounts remain under $chroot_dir; not removing it" >&2
  elif [ "$keep" = 1 ]; then
    echo "in-debian: kept $chroot_dir" >&2
  else
    rm -rf "$chroot_dir"
  fi
}
trap cleanup EXIT
chmod 755 "$chroot_dir"  # apt's _apt user must reach /var/lib/apt
tar -C "$chroot_dir" --numeric-owner -xf "$tarball" || exit 1

# The source tree as a fresh clone of it would be, plus uncommitted edits of the work tree.
src=/src/renderer
mkdir -p "$chroot_dir$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
     tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$chroot_dir$src" -xf -
else
  tar -C "$root" --exclude='./build*' --exclude=./output -cf - . | tar -C "$chroot_dir$src" -xf -
fi
# Name resolution for apt-get; no daemon a package installs is started inside (the usual
# policy-rc.d of build chroots): prometheus would otherwise start listening on :9090.
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
# This machine's local trust anchors (a TLS proxy's CA, say): a fresh machine on this network has
# them too; ca-certificates, once installed inside, adds them to the system store.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$chroot_dir/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$chroot_dir/usr/local/share/ca-certificates/"
fi
printf '#!/bin/sh\nexit 101\n' >"$chroot_dir/usr/sbin/policy-rc.d"
chmod 755 "$chroot_dir/usr/sbin/policy-rc.d"
for b in "${binds[@]}"; do mkdir -p "$b"; done

echo "in-debian: $suite ($(sed -n 's/^PRETTY_NAME=//p' "$chroot_dir/etc/os-release" | tr -d '"')):" \
  "$* in $chroot_dir$src" >&2
# A private mount namespace (nothing propagates to the host) and a PID namespace whose processes
# all die with the command; the environment is a login's, not this shell's. unshare itself
# ignores SIGTERM, so a TERM or INT here (a CI timeout, ^C) kills the namespace's first process,
# and with it every process inside.
stop() {
  pkill -KILL -P "$ns_pid" 2>/dev/null
  wait "$ns_pid"
  exit 143
}
unshare --mount --propagation private --pid --fork --kill-child -- \
  bash -c '
    set -e
    r=$1; src=$2; shift 2
    mount -t proc proc "$r/proc"
    mount -t sysfs sysfs "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
    while [ "$1" != -- ]; do mkdir -p "$r$1"; mount --bind "$1" "$r$1"; shift; done
    shift
    exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI="${CI:-}" \
      /bin/bash -c "cd $src && exec \"\$@\"" bash "$@"
  ' bash "$chroot_dir" "$src" "${binds[@]}" -- "$@" &
ns_pid=$!
trap stop TERM INT
wait "$ns_pid"
status=$?
trap - TERM INT
exit $status
