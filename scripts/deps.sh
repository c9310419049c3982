#!/usr/bin/env bash
# Installs the Debian 12 packages the build and tests need (only those missing), then configures
# and builds ./build. Sourced or run by demo.sh and test.sh; safe to run again.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  g++ meson ninja-build pkg-config
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  libspng-dev libdeflate-dev libcurl4-openssl-dev rapidjson-dev libspdlog-dev libfmt-dev libcli11-dev
  libcpp-httplib-dev libgtest-dev
  ca-certificates curl
)
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

build=${BUILD_DIR:-$root/build}
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup "$build" "$root" --buildtype=release ${MESON_OPTS:-} >&2
fi
# Two cores: two compile jobs.
ninja -C "$build" -j"$(nproc)" >&2
