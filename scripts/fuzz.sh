#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with Debian's clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in ./build-fuzz, then fuzzes each target for FUZZ_SECONDS (default
# 60) starting from its committed corpus. One line per target:
#   fuzz png: 1234567 runs in 60 s (20576/s), corpus 17 -> 412, 0 crashes
# and exits non-zero if any target crashed, leaked, timed out or broke an invariant. The input
# that did it is kept in build-fuzz/fuzz-work/<target>/artifacts/: copy it to
# fuzz/regressions/<target>/ and the fuzz_regression suite replays it in every test run.
#   FUZZ_SECONDS=10 scripts/fuzz.sh png claim     fuzz only those targets, 10 s each
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(job_list claim config png preflight tar)

# The build's own packages, then clang with its libFuzzer/sanitizer runtimes.
DEPS_BUILD=0 "$root/scripts/deps.sh" || exit 1
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >&2 || exit 1
fi
ninja -C "$build" -j"$(nproc)" "${targets[@]/#/fuzz/fuzz_}" >&2 || exit 1

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/ubsan.supp
rc=0
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
  dict=()
  case $t in
    job_list|claim) dict=(-dict="$root/fuzz/json.dict") ;;
    png|preflight) dict=(-dict="$root/fuzz/png.dict") ;;
  esac
  # New inputs go to the work corpus; the committed one is read only. -timeout catches hangs,
  # -rss_limit_mb runaway allocations; TMPDIR keeps the preflight target's files in the work dir.
  TMPDIR="$work/tmp" "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" \
    "$work/corpus" "$root/fuzz/corpus/$t" >"$work/log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/log" | tail -1)
  seeds=$(find "$root/fuzz/corpus/$t" -type f | wc -l)
  found=$(find "$work/corpus" -type f | wc -l)
  crashes=$(find "$work/artifacts" -type f | wc -l)
  rate=$(( ${runs:-0} / (${took:-0} > 0 ? ${took:-1} : 1) ))
  echo "fuzz $t: ${runs:-0} runs in ${took:-?} s (${rate}/s), corpus $seeds -> $((seeds + found)), $crashes crashes"
  if [ $status -ne 0 ] || [ "$crashes" -gt 0 ]; then
    rc=1
    echo "fuzz $t FAILED (exit $status); the last lines of $work/log:" >&2
    tail -40 "$work/log" >&2
    find "$work/artifacts" -type f -exec echo "  crashing input: {}" \; >&2
  fi
  rm -rf "$work/tmp"
done
exit $rc
