#!/usr/bin/env bash
# The main job, end to end on one machine: build (installing missing Debian packages first),
# start the reference job API seeded with the bundled sample stories, run the worker with
# --json-logs until the queue is empty, stop both, and list the artifacts in ./output.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_NODE=0 "$root/scripts/deps.sh"
build=${BUILD_DIR:-$root/build}
bin="$build/src/app"

work=$(mktemp -d /tmp/renderer-demo.XXXXXX)
api_pid=""
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway token for this run only, passed by file so it is never on a command line.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
chmod 600 "$work/token"
mkdir -p "$root/output"

echo "== starting the reference job API, seeded with testdata/stories" >&2
API_AUTH_TOKEN_FILE="$work/token" "$bin/renderer-devapi" --port 0 --port-file "$work/port" \
  --seed-stories "$root/testdata/stories" --json-logs > "$work/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/api.log" >&2; echo "the job API did not start" >&2; exit 1; }
port=$(cat "$work/port")

echo "== running the worker until the queue is empty (JSON logs below)" >&2
API_BASE_URL="http://127.0.0.1:$port" API_AUTH_TOKEN_FILE="$work/token" \
CONTENT_DIR="$root/testdata" OUTPUT_DIR="$root/output" TMP_DIR="$work/tmp" \
POLL_INTERVAL_MS=500 MIN_FREE_BYTES=256M \
  "$bin/renderer" --json-logs worker --exit-when-idle

echo "== job states on the API" >&2
curl -fsS -H "Authorization: Bearer $(cat "$work/token")" "http://127.0.0.1:$port/api/stats"; echo

echo "== artifacts in ./output" >&2
for f in "$root"/output/*.mp4; do
  "$bin/renderer" probe --compact "$f"
done
