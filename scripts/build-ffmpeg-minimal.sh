#!/usr/bin/env bash
# Builds the FFmpeg libraries the production renderer needs, and nothing else, from Debian's own
# ffmpeg source package (so a security fix is a rebuild from the updated source package), into
# PREFIX (default /opt/ffmpeg): libavformat, libavcodec, libavutil, libswscale, libswresample as
# shared libraries, with
#   encoders  libx264, libx265, libsvtav1 (Debian's libx264, libx265, SVT-AV1: VIDEO_CODEC
#             h264, hevc, av1), aac
#   decoders  mp3, mp3float (the music), h264 and aac are NOT built: nothing in production decodes
#             video or AAC (`renderer bench`, which does, is left out of the image)
#   demuxers  mp3 (the music), mov (reading our own artifacts: render cache, probe)
#   muxers    mp4 (mov family)
#   parsers   mpegaudio (the mp3 demuxer needs it), h264, hevc, av1, aac (stream parameters for
#             probe)
#   protocols file
# No programs, no devices, no filters, no network, no hardware acceleration, no autodetected
# libraries. Used by the Containerfile's `ffmpeg-minimal` stage (FFMPEG=minimal); needs root, a
# deb-src line for the machine's mirror (added here when missing) and about 2 GB of disk.
set -euo pipefail
prefix=${1:-/opt/ffmpeg}
work=${FFMPEG_WORK:-/tmp/ffmpeg-minimal}

# deb-src for the same mirror and suites the binary packages come from.
if ! grep -qs '^Types:.*deb-src' /etc/apt/sources.list.d/debian.sources; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
fi
apt-get update -qq
# Only what this configuration compiles with: not `apt-get build-dep ffmpeg`, which would pull
# in every codec library Debian's build links.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  dpkg-dev gcc make nasm pkg-config libx264-dev libx265-dev libsvtav1enc-dev >/dev/null

mkdir -p "$work"
cd "$work"
apt-get source -qq --download-only ffmpeg
# dpkg-source applies Debian's own patches, as its packages are built.
dpkg-source -x ./ffmpeg_*.dsc src >/dev/null
version=$(dpkg-parsechangelog -l src/debian/changelog -S Version)
cd src
./configure --prefix="$prefix" --enable-shared --disable-static \
  --extra-version="debian-$version-minimal" \
  --disable-everything --disable-autodetect --disable-programs --disable-doc \
  --disable-network --disable-avdevice --disable-avfilter --disable-postproc \
  --enable-gpl --enable-libx264 --enable-libx265 --enable-libsvtav1 \
  --enable-encoder=libx264,libx265,libsvtav1,aac \
  --enable-decoder=mp3,mp3float,aac \
  --enable-demuxer=mp3,mov \
  --enable-muxer=mp4,mov \
  --enable-parser=mpegaudio,h264,hevc,av1,aac \
  --enable-protocol=file >configure.log
make -j"$(nproc)" >/dev/null
make install >/dev/null
echo "build-ffmpeg-minimal: FFmpeg $version into $prefix" >&2
