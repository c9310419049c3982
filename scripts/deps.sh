#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (only those missing; the names are the
# same on Debian 12 bookworm and 13 trixie), then configures and builds ./build. Sourced or run by
# demo.sh and test.sh; safe to run again.
#   DEPS=build      install only what compiling needs (the Containerfile's build stage uses this)
#   DEPS_BUILD=0    install packages only; do not configure or build
#   MESON_OPTS=...  extra `meson setup` options, applied to an existing build dir too
#                   (CI: MESON_OPTS=-Dwerror=true)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

build_packages=(
  g++ meson ninja-build pkg-config
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  libspng-dev libdeflate-dev libcurl4-openssl-dev rapidjson-dev libspdlog-dev libfmt-dev libcli11-dev
  # Object storage (src/storage): expat reads S3's XML answers, libcrypto (libssl-dev below)
  # hashes uploads, libarchive reads frames delivered as a .tar.
  libexpat1-dev libarchive-dev
  libcpp-httplib-dev
  # cpp-httplib's header calls into these, so the binaries link them (meson.build).
  libssl-dev zlib1g-dev libbrotli-dev
  ca-certificates
)
# On top for the tests: GoogleTest; curl for the scripts;
# promtool (Debian ships it in the prometheus package) to check /metrics; PyYAML to parse the
# Kubernetes manifests; zlib and libpng for the PNG conformance corpus (written with zlib,
# checked against libpng as an independent decoder); debootstrap's suite scripts for the
# debian-rootfs.sh test (and scripts/in-debian.sh); libebur128, the reference the renderer's own
# loudness meters are tested against; the openssl CLI, which makes the self-signed certificate
# of the storage tests' https store (storage_tls_test).
test_packages=(
  libgtest-dev libebur128-dev curl prometheus python3-yaml zlib1g-dev libpng-dev debootstrap
  openssl
)
# The storage tests run a real S3 endpoint (s3rver, npm) behind a signature-checking proxy:
# Node from Debian unless the machine already has one.
if [ "${DEPS:-all}" != build ] && ! command -v node >/dev/null; then
  test_packages+=(nodejs npm)
fi
packages=("${build_packages[@]}")
[ "${DEPS:-all}" = build ] || packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# The tests' Node packages, pinned by tests/node/package-lock.json, into tests/node/node_modules.
# Node trusts its own CA list, not the machine's: a machine that reaches the registry through a
# proxy with a local CA (in the system store) needs it named. DEPS_NODE=0 skips this step
# (scripts/demo.sh: a render needs no Node).
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
if [ "${DEPS:-all}" != build ] && [ "${DEPS_NODE:-1}" != 0 ] &&
   [ ! -f "$root/tests/node/node_modules/.package-lock.json" -o \
     "$root/tests/node/package-lock.json" -nt "$root/tests/node/node_modules/.package-lock.json" ]; then
  echo "deps: npm ci in tests/node" >&2
  (cd "$root/tests/node" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
[ "${DEPS_BUILD:-1}" = 0 ] && exit 0

build=${BUILD_DIR:-$root/build}
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup "$build" "$root" --buildtype=release ${MESON_OPTS:-} >&2
elif [ -n "${MESON_OPTS:-}" ]; then
  # shellcheck disable=SC2086
  meson configure "$build" ${MESON_OPTS} >&2
fi
# Two cores: two compile jobs.
ninja -C "$build" -j"$(nproc)" >&2
