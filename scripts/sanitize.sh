#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer (LeakSanitizer included) and
# UndefinedBehaviorSanitizer in ./build-asan (GCC, debug). Any report halts the process that
# made it, so the suite that ran it fails; subprocesses (the real `renderer` and
# `renderer-devapi` binaries) are instrumented too and get the same settings. Ends with
#   asan: N passed, N failed
# FFmpeg, x264 and the other system libraries are not instrumented, but their allocations are
# tracked by LeakSanitizer and their calls into our code are checked. One suppression
# (scripts/lsan.supp): libx265 3.5's own leak at every encoder open, which the ffmpeg CLI shows
# too (docs/RELIABILITY.md).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_BUILD=0 "$root/scripts/deps.sh" || exit 1
build=${ASAN_BUILD_DIR:-$root/build-asan}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --buildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false >&2 || exit 1
fi
ninja -C "$build" -j"$(nproc)" >&2 || exit 1

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/scripts/lsan.supp
# Sanitized code runs 2-3x slower: the suites' timeouts stretch with it.
meson test -C "$build" --print-errorlogs --num-processes 1 --timeout-multiplier 3 "$@"
rc=$?
python3 "$root/scripts/gtest_summary.py" --label asan "$build/meson-logs/testlog.json" || rc=1
exit $rc
