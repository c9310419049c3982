#!/usr/bin/env bash
# Prepares infra/ for `docker compose -f infra/docker-compose.yml ...` (run once; safe to run
# again): ./content with the bundled sample stories and music unless it already has content,
# ./output writable by the image's user (uid 10001), and ./secrets/api_token, a random token
# shared by the reference API and the worker (mode 0600, owned by uid 10001).
set -euo pipefail
infra=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$infra")
content=${RENDERER_CONTENT_DIR:-$infra/content}
output=${RENDERER_OUTPUT_DIR:-$infra/output}
token=${RENDERER_API_TOKEN_FILE:-$infra/secrets/api_token}

if [ ! -d "$content/stories" ]; then
  mkdir -p "$content/audio"
  cp -R "$root/testdata/stories" "$content/stories"
  cp -R "$root/testdata/audio/music" "$content/audio/music"
  echo "local-setup: copied the sample stories and music into $content" >&2
fi

mkdir -p "$output"
# The container runs as uid 10001; give it the output dir (or, without the right to chown,
# open the dir to everyone: a local development setup only).
if ! chown 10001:10001 "$output" 2>/dev/null; then
  chmod 0777 "$output"
fi

if [ ! -s "$token" ]; then
  mkdir -p "$(dirname "$token")"
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token")
  echo "local-setup: wrote a development API token to $token" >&2
fi
# 0600, owned by the containers' user (uid 10001: both images run as it; a compose secret is a
# bind mount, so the file's own owner and mode are what the container sees). Without the right to
# chown (not root), the file stays yours and 0600, and the containers cannot read it: run this
# script as root, or give uid 10001 the file yourself.
chmod 0600 "$token"
if ! chown 10001:10001 "$token" 2>/dev/null; then
  echo "local-setup: could not chown $token to uid 10001 (not root?): the containers will not" \
    "be able to read it; run this script as root" >&2
fi
