#!/usr/bin/env bash
# Prints the path of a minimal Debian root filesystem tarball for SUITE (bookworm, trixie, ...),
# making it first when it is not cached: debootstrap --variant=minbase from the machine's own apt
# mirror (no container registry is reachable here), with the suite's -updates and -security
# sources, as a fresh Debian machine or the official debian:SUITE image has them.
#   scripts/debian-rootfs.sh trixie      -> /var/cache/renderer/trixie-rootfs.tar
# Used by scripts/in-debian.sh (a fresh chroot per run) and infra/test-image.sh (the podman base
# image). The cache (RENDERER_ROOTFS_CACHE, default /var/cache/renderer) lives as long as the
# machine; delete a tarball to make it again with the mirror's current packages. Needs root.
set -euo pipefail
suite=${1:?usage: debian-rootfs.sh SUITE}
case $suite in *[!a-z]*) echo "debian-rootfs: bad suite name '$suite'" >&2; exit 64 ;; esac
cache_dir=${RENDERER_ROOTFS_CACHE:-/var/cache/renderer}
tarball=$cache_dir/$suite-rootfs.tar
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  echo "debian-rootfs: installing debootstrap" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    debootstrap >&2
fi
[ -e "/usr/share/debootstrap/scripts/$suite" ] || {
  echo "debian-rootfs: this debootstrap does not know '$suite'" >&2
  exit 64
}
# The machine's own mirror (deb822 sources first, then the classic list), else Debian's CDN.
sources=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
mirror=$(sed -n 's/^URIs: *//p; s/^deb \(\[[^]]*\] \)\?\(\S*\) .*/\2/p' <<<"$sources" |
  grep -v security | head -1)
security=$(sed -n 's/^URIs: *//p; s/^deb \(\[[^]]*\] \)\?\(\S*\) .*/\2/p' <<<"$sources" |
  grep security | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-${mirror%/debian}/debian-security}

mkdir -p "$cache_dir"
rootfs=$(mktemp -d "$cache_dir/$suite-rootfs.XXXXXX")
# Each run writes a tarball of its own and renames it into place: two runs at once (a CI step
# and a developer's in-debian.sh) each publish a whole file. --one-file-system: should debootstrap
# die with its /proc or bind mounts of /dev still in the rootfs, never delete through them.
partial=$(mktemp "$cache_dir/$suite-rootfs.tar.XXXXXX")
trap 'rm -rf --one-file-system "$rootfs" "$partial"' EXIT
echo "debian-rootfs: debootstrap $suite from $mirror (a minute or two)" >&2
if ! timeout 1200 debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" \
     >"$rootfs.log" 2>&1; then
  tail -20 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  echo "debian-rootfs: debootstrap $suite failed" >&2
  exit 1
fi
rm -f "$rootfs.log"
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Nothing of the build host's stays in the image: no package lists, no resolver settings.
find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f -delete
rm -f "$rootfs"/var/cache/apt/archives/*.deb
: >"$rootfs/etc/resolv.conf"
chmod 755 "$rootfs"  # mktemp made it 0700: the image's / must be open to its non-root user
tar -C "$rootfs" --numeric-owner -cf "$partial" .
chmod 644 "$partial"
mv "$partial" "$tarball"
echo "$tarball"
