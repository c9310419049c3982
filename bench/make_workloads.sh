#!/usr/bin/env bash
# Copied from the project's shared/bench so the benchmark runs from a clone alone.
# Generates the reference workloads used to measure the renderer against its anchors.
# Usage: make_workloads.sh OUTDIR   (needs the ffmpeg CLI; only for measuring, never shipped)
set -euo pipefail
out=${1:?outdir}
mkdir -p "$out"
cd "$out"
gen() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# W1: 1080p Ken-Burns style story part, 450 distinct frames (15 s at 30 fps).
if [ ! -d w1_kenburns_1080p ]; then
  mkdir -p w1_kenburns_1080p/frames
  gen -f lavfi -i "mandelbrot=size=2560x1440:rate=1,format=rgb24" -frames:v 1 w1_src.png
  gen -loop 1 -i w1_src.png -vf "zoompan=z='min(zoom+0.0008,1.5)':d=450:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=1920x1080:fps=30,format=rgb24" -frames:v 450 w1_kenburns_1080p/frames/frame_%05d.png
fi
# W2: 720p slides held still: 6 slides x 75 identical frames (15 s), the classic slideshow.
if [ ! -d w2_held_720p ]; then
  mkdir -p w2_held_720p/frames
  for s in 0 1 2 3 4 5; do
    gen -f lavfi -i "testsrc2=size=1280x720:rate=1,format=rgb24" -ss $s -frames:v 1 w2_slide$s.png
    for i in $(seq 0 74); do cp w2_slide$s.png w2_held_720p/frames/frame_$(printf %05d $((s*75+i))).png; done
  done
  rm -f w2_slide*.png
fi
# W3: long 1080p part: 1800 frames (60 s) of moving synthetic content.
if [ ! -d w3_long_1080p ]; then
  mkdir -p w3_long_1080p/frames
  gen -f lavfi -i "testsrc2=size=1920x1080:rate=30,format=rgb24" -frames:v 1800 w3_long_1080p/frames/frame_%05d.png
fi
# Music: 90 s stereo 44.1 kHz MP3 at 192k (longer than every workload, so -shortest cuts audio).
mkdir -p music
[ -f music/background.mp3 ] || gen -f lavfi -i "sine=frequency=220:sample_rate=44100:duration=90" -f lavfi -i "anoisesrc=color=pink:amplitude=0.05:sample_rate=44100:duration=90" -filter_complex "[0][1]amix=inputs=2,aformat=channel_layouts=stereo" -c:a libmp3lame -b:a 192k music/background.mp3
du -sh "$out"/*
