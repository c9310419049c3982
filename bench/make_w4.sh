#!/usr/bin/env bash
# W4, the held-slide story (issue 14): 10 slides at 1080p, each held 1.5 s, with a 0.5 s
# crossfade between one and the next (30 fps: 45 identical frames, then 15 blended ones), 585
# frames, 19.5 s. Beside make_workloads.sh, which is a copy of shared/bench's and stays as it is.
# Usage: make_w4.sh OUTDIR   (needs the ffmpeg CLI; only for measuring, never shipped)
set -euo pipefail
out=${1:?outdir}
dir="$out/w4_story_1080p"
[ -d "$dir/frames" ] && exit 0
mkdir -p "$dir.tmp/frames"
cd "$dir.tmp"
gen() { ffmpeg -hide_banner -loglevel error -y "$@"; }
# Ten different pictures with photographic detail: the Mandelbrot set at ten depths of its zoom
# (its first frame at ten start scales: no frames rendered to seek), each tinted differently.
for s in $(seq 0 9); do
  [ -f "slide$s.png" ] && continue  # left by an interrupted run: the same picture
  scale=$(awk -v s="$s" 'BEGIN { printf "%.6f", 3 * 0.6 ^ s }')
  gen -f lavfi -i "mandelbrot=size=1920x1080:rate=1:maxiter=1000:start_scale=$scale" \
    -vf "hue=h=$((s * 36)),format=rgb24" -frames:v 1 "slide$s.png"
done
rm -f frames/*.png
n=0
next_frame() { n=$((n + 1)); f=$(printf 'frames/frame_%05d.png' "$n"); }
for s in $(seq 0 9); do
  for i in $(seq 1 45); do next_frame; cp "slide$s.png" "$f"; done
  [ "$s" = 9 ] && break
  # The crossfade: frame k of 15 shows (k/16) of the next slide over this one.
  for k in $(seq 1 15); do
    next_frame
    gen -i "slide$s.png" -i "slide$((s + 1)).png" \
      -filter_complex "[1][0]blend=all_mode=normal:all_opacity=$k/16,format=rgb24" \
      -frames:v 1 "$f"
  done
done
rm -f slide*.png
cd "$out"
mv "$dir.tmp" "$dir"
