#!/usr/bin/env bash
# Builds the project (installing missing Debian packages first) and runs the whole test suite.
# Ends with one line "N passed, N failed" counting GoogleTest cases across every suite.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/deps.sh" || exit 1
build=${BUILD_DIR:-$root/build}
meson test -C "$build" --print-errorlogs --num-processes 1 "$@"
rc=$?
python3 "$root/scripts/gtest_summary.py" "$build/meson-logs/testlog.json" || rc=1
exit $rc
