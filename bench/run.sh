#!/usr/bin/env bash
# One command for the performance benchmark: installs what is missing (the ffmpeg CLI is needed
# here only, as the anchor and to make the workloads), builds a release binary, generates the
# reference workloads once (BENCH_DIR, default /var/tmp/renderer-bench), and prints the table of
# ratios against the ffmpeg CLI. Extra arguments go to bench/run.py (--repeat N, --only …;
# --timing for frame timing, issue 14: vfr against the CLI and against cfr).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$root/build-release" MESON_OPTS="-Dtests=false" "$root/scripts/deps.sh"
missing=()
for p in ffmpeg time python3; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; fi
bench_dir=${BENCH_DIR:-/var/tmp/renderer-bench}
"$root/bench/make_workloads.sh" "$bench_dir" >&2
"$root/bench/make_w4.sh" "$bench_dir" >&2
python3 "$root/bench/run.py" --renderer "$root/build-release/src/app/renderer" --workloads "$bench_dir" "$@"
