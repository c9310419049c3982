#!/usr/bin/env bash
# Builds the production image (Containerfile) with podman and proves it works, on a machine
# without a Docker engine (shared/CONTAINERS.md): the binary runs as a non-root user, the image
# holds no ffmpeg or ffprobe, every shared library resolves, a one-shot render with /content and
# /output mounted writes a valid MP4 on a read-only root filesystem, and the compose file the
# runbooks drive (infra/docker-compose.yml, under podman-compose) renders the sample jobs through
# the reference API. Prints one PASS/FAIL line per check; exits 1 if any failed.
#
# IMAGE_SUITE=bookworm checks the Debian 12 image (Containerfile's DEBIAN_SUITE build argument);
# the default is the production base, Debian 13 (trixie).
#
# Needs root (apt-get, rootful podman). Idempotent: installs what is missing, caches the
# debootstrap'ed base rootfs under /var/cache/renderer (scripts/debian-rootfs.sh), and reuses
# podman's layer cache.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
compose_file=infra/docker-compose.yml
# The runbook's compose commands run as written plus `-p`, so a developer's own `docker compose`
# project (named after the directory, "infra") is never touched.
project=renderer-image-test
export RENDERER_ROOTFS_CACHE=${RENDERER_IMAGE_CACHE:-/var/cache/renderer}
suite=${IMAGE_SUITE:-trixie}
base=docker.io/library/debian:$suite
# The Containerfile pins its base by a dated tag (DEBIAN_DATE); the debootstrap'ed base is tagged
# with that name, so the build resolves it locally.
debian_date=$(sed -n 's/^ARG DEBIAN_DATE=//p' Containerfile)
# FFMPEG=distro checks the variant on Debian's full FFmpeg libraries.
ffmpeg=${IMAGE_FFMPEG:-minimal}
image=renderer:dev
devapi_image=renderer-devapi:dev
# The production image's size budget (docs/DEPLOY.md): the minimal-FFmpeg image measured 152 MB
# on Debian 13 with x264 alone; libx265 and SVT-AV1 (issue 16) add about 23 MB by Debian 12's
# package sizes (not yet measured in an image build); distro FFmpeg (libavcodec's codec
# libraries) is allowed its measured size.
case $ffmpeg in
  minimal) budget_mb=${IMAGE_BUDGET_MB:-200} ;;
  *) budget_mb=${IMAGE_BUDGET_MB:-470} ;;
esac
export RENDERER_DEBIAN_SUITE=$suite  # what infra/docker-compose.yml builds
# HEALTHCHECK is a Docker-format instruction; podman's default OCI format would drop it.
export BUILDAH_FORMAT=docker

started=$(date +%s)
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
note() { echo "test-image: $*" >&2; }
elapsed() { echo $(($(date +%s) - started)); }
took() { echo "$(($(elapsed) - t0)) s"; }  # since the step's t0

finish() {
  local verdict="all $passed checks passed"
  [ "$failed" -gt 0 ] && verdict="$failed of $((passed + failed)) checks FAILED"
  echo "test-image: $verdict in $(elapsed) s"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$(id -u)" -ne 0 ]; then
  fail "setup: must run as root (apt-get, rootful podman)"
  finish
fi

# ---- setup: podman and friends, their configuration, the base image -----------------------------
setup() {
  local p missing=()
  for p in podman runc debootstrap podman-compose curl python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    note "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      "${missing[@]}" >/dev/null || return 1
  fi
  # podman's defaults ask for ulimits and cgroup controllers this kind of sandbox does not grant.
  if ! grep -qs 'cgroup_manager = "cgroupfs"' /etc/containers/containers.conf; then
    [ -f /etc/containers/containers.conf ] &&
      cp /etc/containers/containers.conf /etc/containers/containers.conf.orig
    mkdir -p /etc/containers
    cat >/etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
  fi
  # No registry is reachable: debian:SUITE(-slim) is made from the machine's own apt mirror.
  if ! podman image exists "$base"; then
    local tarball
    tarball=$(scripts/debian-rootfs.sh "$suite") || return 1
    podman import "$tarball" "$base" >/dev/null || return 1
  fi
  podman tag "$base" "$base-slim" "$base-$debian_date" "$base-$debian_date-slim"
}
t0=$(elapsed)
if setup; then
  pass "setup: podman $(podman version --format '{{.Client.Version}}'), base image $base ($(took))"
else
  fail "setup: could not install podman or make the base image"
  finish
fi

# ---- alert rules: checked and unit-tested with promtool (Debian's prometheus package) -----------
if ! command -v promtool >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
    >/dev/null 2>&1
fi
if rules=$(promtool check rules infra/k8s/monitoring/alerts.yaml 2>&1) &&
   tests=$(cd infra/k8s/monitoring && promtool test rules alerts_test.yaml 2>&1); then
  pass "alerts: promtool check rules ($(grep -o '[0-9]* rules found' <<<"$rules")) and" \
    "promtool test rules (infra/k8s/monitoring/alerts_test.yaml)"
else
  echo "$rules"
  echo "$tests"
  fail "alerts: promtool check/test rules failed"
fi

# ---- build ------------------------------------------------------------------------------------
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time, so two builds of one commit carry the same labels.
created=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
# The remote without its userinfo: a CI checkout's URL often carries a token, and labels are
# read by anyone who can pull the image.
public_url() {
  sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@#\1#' <<<"$1"
}
source_url=$(public_url "$(git config --get remote.origin.url 2>/dev/null || echo unknown)")
build_args=(--build-arg DEBIAN_SUITE="$suite" --build-arg FFMPEG="$ffmpeg")
build_log=/tmp/test-image-build.log
: >"$build_log"
# Each stage timed on its own: what CI pays for the compilers, for FFmpeg, for the rest.
stage_times=""
for stage in build-env "ffmpeg-$ffmpeg"; do
  t0=$(elapsed)
  if ! timeout 1800 podman build --isolation=chroot -f Containerfile --target "$stage" \
       "${build_args[@]}" -t "renderer-stage:$stage" . >>"$build_log" 2>&1; then
    tail -30 "$build_log"
    fail "build: stage $stage failed (log: $build_log)"
    finish
  fi
  stage_times+="$stage $(took), "
done
t0=$(elapsed)
if timeout 1800 podman build --isolation=chroot -f Containerfile -t "$image" "${build_args[@]}" \
     --build-arg VERSION="$version" --build-arg REVISION="$revision" \
     --build-arg CREATED="$created" --build-arg SOURCE="$source_url" . >>"$build_log" 2>&1 &&
   timeout 900 podman build --isolation=chroot -f Containerfile --target devapi \
     "${build_args[@]}" -t "$devapi_image" . >>"$build_log" 2>&1; then
  size=$(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%d MB", $1 / 1e6}')
  pass "build: $image and $devapi_image from Containerfile, FFMPEG=$ffmpeg (${stage_times}the" \
    "rest $(took); $size)"
else
  tail -30 "$build_log"
  fail "build: podman build failed (log: $build_log)"
  finish
fi

# The size budget: what a node pulls for every new pod.
size_mb=$(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%d", $1 / 1e6}')
if [ "$size_mb" -le "$budget_mb" ]; then
  pass "size: $size_mb MB, within the budget of $budget_mb MB (FFMPEG=$ffmpeg)"
else
  fail "size: $size_mb MB, over the budget of $budget_mb MB (FFMPEG=$ffmpeg)"
fi

work=$(mktemp -d /tmp/renderer-image-test.XXXXXX)
cleanup() {
  timeout 120 podman-compose -p "$project" -f "$compose_file" down >/dev/null 2>&1
  podman ps -aq --filter label=com.docker.compose.project=$project |
    xargs -r podman rm -f >/dev/null 2>&1
  podman volume rm -f renderer-image-test-tmp >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

run() { timeout 300 podman run --rm --no-healthcheck "$@"; }
inspect() { podman image inspect "$image" --format "$1"; }

# ---- the image's metadata and contents ------------------------------------------------------
out=$(run "$image" --version 2>&1)
uid=$(run --entrypoint id "$image" -u 2>&1)
user=$(inspect '{{.User}}')
if [ "$out" = "renderer $version" ] && [ "$uid" = 10001 ] && [ "$user" = 10001:10001 ]; then
  pass "non-root: \`renderer --version\` prints '$out' as uid $uid (image USER $user)"
else
  fail "non-root: --version printed '$out', uid '$uid', image USER '$user'"
fi

entrypoint=$(inspect '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')
health=$(inspect '{{json .HealthCheck.Test}}')
title=$(inspect '{{index .Labels "org.opencontainers.image.title"}}')
label_version=$(inspect '{{index .Labels "org.opencontainers.image.version"}}')
label_revision=$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')
label_created=$(inspect '{{index .Labels "org.opencontainers.image.created"}}')
label_licenses=$(inspect '{{index .Labels "org.opencontainers.image.licenses"}}')
label_source=$(inspect '{{index .Labels "org.opencontainers.image.source"}}')
label_base=$(inspect '{{index .Labels "org.opencontainers.image.base.name"}}')
if [ "$entrypoint" = '["renderer"] ["--json-logs"]' ] &&
   [ "$health" = '["CMD","renderer","healthcheck"]' ] && [ "$title" = renderer ] &&
   [ "$label_version" = "$version" ] && [ "$label_revision" = "$revision" ] &&
   [ "$label_created" = "$created" ] && [ -n "$label_licenses" ] && [ -n "$label_source" ] &&
   [ "$label_base" = "docker.io/library/debian:$suite-$debian_date-slim" ]; then
  pass "metadata: ENTRYPOINT/CMD $entrypoint, HEALTHCHECK $health, OCI labels" \
    "(version $label_version, revision ${label_revision:0:12}, created $label_created," \
    "licenses $label_licenses, base $label_base)"
else
  fail "metadata: entrypoint '$entrypoint', healthcheck '$health', title '$title'," \
    "version '$label_version', revision '$label_revision', created '$label_created'," \
    "licenses '$label_licenses', source '$label_source', base '$label_base'"
fi

# Searched from the host in the image's own filesystem, so nothing depends on tools inside it.
found=""
if mnt=$(podman image mount "$image" 2>/dev/null) && [ -d "$mnt/usr" ]; then
  found=$(find "$mnt" -xdev \( -name ffmpeg -o -name ffprobe -o -name 'ffmpeg.*' \) \
            \( -type f -o -type l \) 2>/dev/null | sed "s|^$mnt||")
  installed=$(chroot "$mnt" dpkg-query -W -f='${Package} ' ffmpeg ffprobe 2>/dev/null)
  # What apt leaves behind unless cleaned: package lists and its binary caches.
  apt_left=$(du -sk "$mnt/var/lib/apt/lists" "$mnt/var/cache/apt" 2>/dev/null |
    awk '{s += $1} END {print s + 0}')
  # The minimal FFmpeg holds exactly the components the renderer uses (the attack surface).
  components=""
  if [ "$ffmpeg" = minimal ]; then
    # The image's FFmpeg needs the image's encoder libraries (Debian 13's sonames), and those
    # its glibc: the host's Python runs under the image's dynamic loader and libraries, the
    # host's own last for what the image lacks (Python's modules).
    lib=$mnt/usr/lib/x86_64-linux-gnu
    components=$("$mnt/usr/lib64/ld-linux-x86-64.so.2" \
      --library-path "$mnt/usr/local/lib:$lib:/usr/lib/x86_64-linux-gnu" \
      /usr/bin/python3 infra/ffmpeg_components.py "$mnt/usr/local/lib" 2>&1)
  fi
  podman image unmount "$image" >/dev/null 2>&1
  if [ "$apt_left" -le 64 ]; then
    pass "apt: no package lists or caches left in the image (${apt_left} KiB)"
  else
    fail "apt: ${apt_left} KiB of package lists and caches left in the image"
  fi
  if [ "$ffmpeg" = minimal ]; then
    expected="encoders aac libsvtav1 libx264 libx265; decoders aac mp3 mp3float; demuxers mov,mp4,m4a,3gp,3g2,mj2 mp3; muxers mov mp4; parsers aac ac3 av1 h264 hevc mp1; protocols file"
    if [ "$components" = "$expected" ]; then
      pass "ffmpeg: the image's FFmpeg holds only $components"
    else
      fail "ffmpeg: components '$components', expected '$expected'"
    fi
  fi
  if [ -z "$found" ] && [ -z "$installed" ]; then
    pass "no-ffmpeg: no ffmpeg or ffprobe file anywhere in the image, no ffmpeg package"
  else
    fail "no-ffmpeg: found '${found}' installed '${installed}'"
  fi
else
  fail "no-ffmpeg: could not mount the image to search it"
fi

missing_libs=""
for pair in "$image:/usr/local/bin/renderer" "$devapi_image:/usr/local/bin/renderer-devapi"; do
  img=${pair%%:/*}
  bin=/${pair#*:/}
  ldd_out=$(run --entrypoint ldd "$img" "$bin" 2>&1)
  if [ -z "$ldd_out" ] || grep -q "not found\|not a dynamic" <<<"$ldd_out"; then
    missing_libs+="$bin: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ') "
  fi
done
if [ -z "$missing_libs" ]; then
  count=$(run --entrypoint ldd "$image" /usr/local/bin/renderer | grep -c '=>')
  pass "libraries: all $count shared libraries of renderer (and renderer-devapi) resolve"
else
  fail "libraries: $missing_libs"
fi

# ---- a one-shot render, as Kubernetes runs it: read-only root, writable volumes -----------------
mkdir -p "$work/content/audio" "$work/render-out"
cp -R testdata/stories "$work/content/stories"
cp -R testdata/audio/music "$work/content/audio/music"
chown 10001:10001 "$work/render-out"
podman volume create renderer-image-test-tmp >/dev/null
podman run --rm --no-healthcheck -v renderer-image-test-tmp:/v --user 0 --entrypoint chown \
  "$image" 10001:10001 /v >/dev/null 2>&1
t0=$(elapsed)
render_log=$(run --read-only --read-only-tmpfs=false \
  -v "$work/content:/content:ro" -v "$work/render-out:/output" \
  -v renderer-image-test-tmp:/tmp/renderer \
  "$image" render --stories-path /content/stories --output /output \
  --music-dir /content/audio/music --json-logs 2>&1)
rc=$?
probe_ok=1
for part in part1 part2; do
  f=demo_$part.mp4
  probe=$(run -v "$work/render-out:/output:ro" "$image" probe --compact "/output/$f" 2>&1)
  python3 -c '
import json, sys
p = json.loads(sys.argv[1])
codecs = {s["type"]: s["codec"] for s in p["streams"]}
assert codecs.get("video") == "h264" and codecs.get("audio") == "aac", codecs
assert p["duration_sec"] > 1.0, p
' "$probe" 2>/dev/null || { probe_ok=0; echo "  $f: $probe"; }
done
if [ "$rc" -eq 0 ] && [ "$probe_ok" -eq 1 ]; then
  pass "one-shot render: demo_part1.mp4 and demo_part2.mp4 (H.264 + AAC, probed in the image)" \
    "on a read-only root ($(took))"
else
  echo "$render_log" | tail -20
  fail "one-shot render: exit $rc, probe ok $probe_ok"
fi

# ---- the compose file the runbooks drive, under podman-compose --------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
export RENDERER_CONTENT_DIR=$work/content RENDERER_OUTPUT_DIR=$work/compose-out
export RENDERER_API_TOKEN_FILE=$work/secrets/api_token RENDERER_API_PORT=$(free_port)
infra/local-setup.sh
container_of() {
  podman ps -a --filter label=com.docker.compose.project=$project \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -1
}
done_count() {
  local c
  c=$(container_of renderer)
  [ -n "$c" ] && podman logs "$c" 2>/dev/null | grep -c '"event":"done"'
}

t0=$(elapsed)
# The runbook's service: the API comes as its dependency; the profile `s3` services stay down
# (podman-compose 1.0 knows no profiles, so they are left out by naming the service).
timeout 900 podman-compose -p "$project" -f "$compose_file" up --build renderer \
  >"$work/compose-up.log" 2>&1 &
up_pid=$!
deadline=$(($(elapsed) + 600))
while [ "$(elapsed)" -lt "$deadline" ] && kill -0 "$up_pid" 2>/dev/null; do
  [ "$(done_count)" = 2 ] && break
  sleep 2
done
stats=$(curl -fsS -m 5 -H "Authorization: Bearer $(cat "$RENDERER_API_TOKEN_FILE")" \
  "http://127.0.0.1:$RENDERER_API_PORT/api/stats" 2>&1)
outputs=$(cd "$RENDERER_OUTPUT_DIR" 2>/dev/null && ls ./*.mp4 2>/dev/null | tr '\n' ' ')
if [ "$(done_count)" = 2 ] && [ "$outputs" = "./demo_part1.mp4 ./demo_part2.mp4 " ] &&
   python3 -c 'import json, sys; assert json.loads(sys.argv[1])["by_status"]["rendered"] == 2' \
     "$stats" 2>/dev/null; then
  pass "compose up --build: the worker rendered both sample jobs through the reference API" \
    "($(took); api stats $stats)"
else
  tail -40 "$work/compose-up.log"
  fail "compose up --build: done events $(done_count), outputs '$outputs', api stats '$stats'"
fi

worker=$(container_of renderer)
if [ -n "$worker" ] && hc=$(timeout 60 podman healthcheck run "$worker" 2>&1); then
  pass "healthcheck: the image's HEALTHCHECK (\`renderer healthcheck\`, /livez) says healthy"
else
  fail "healthcheck: podman healthcheck run $worker: $hc"
fi

timeout 10 podman-compose -p "$project" -f "$compose_file" logs -f --tail=0 renderer \
  >"$work/logs-follow.log" 2>&1
rc=$?
if [ "$rc" -eq 124 ] && ! grep -q "^Error" "$work/logs-follow.log"; then
  pass "runbook logs: \`logs -f --tail=0 renderer\` follows the worker's log"
else
  cat "$work/logs-follow.log"
  fail "runbook logs: exit $rc"
fi

# Runbook B, word for word, into the compose output dir emptied first.
rm -f "$RENDERER_OUTPUT_DIR"/*.mp4
t0=$(elapsed)
timeout 600 podman-compose -p "$project" -f "$compose_file" run --rm --no-deps renderer render \
  --stories-path /content/stories --output /output --music-dir /content/audio/music \
  </dev/null >"$work/compose-run.log" 2>&1
rc=$?
outputs=$(cd "$RENDERER_OUTPUT_DIR" 2>/dev/null && ls ./*.mp4 2>/dev/null | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ "$outputs" = "./demo_part1.mp4 ./demo_part2.mp4 " ]; then
  pass "runbook run: \`run --rm --no-deps renderer render ...\` wrote both MP4s ($(took))"
else
  tail -20 "$work/compose-run.log"
  fail "runbook run: exit $rc, outputs '$outputs'"
fi

# SIGTERM as PID 1: the worker drains and exits 0 well within stop_grace_period.
if [ -n "$worker" ]; then
  timeout 120 podman stop -t 45 "$worker" >/dev/null 2>&1
  code=$(podman inspect "$worker" --format '{{.State.ExitCode}}' 2>&1)
  if [ "$code" = 0 ] && podman logs "$worker" 2>&1 | grep -q '"event":"stopped"'; then
    pass "graceful stop: SIGTERM to the worker container ends it with exit code 0"
  else
    fail "graceful stop: exit code '$code'"
  fi
fi
timeout 120 podman-compose -p "$project" -f "$compose_file" down >/dev/null 2>&1
kill "$up_pid" 2>/dev/null
wait "$up_pid" 2>/dev/null

# ---- profile s3: no shared volume; s3rver, the API seeding it, a worker mounting nothing -------
# The API uploads the sample stories into the bucket and seeds jobs by URL; the worker downloads,
# renders and uploads. Pass: both jobs rendered, two uploads logged, no MP4 left in any
# directory the worker could share (it has none: its only mount is the secret).
rm -f "$RENDERER_OUTPUT_DIR"/*.mp4
export RENDERER_API_PORT_S3=$(free_port)
uploaded_count() {
  local c
  c=$(container_of renderer-s3)
  [ -n "$c" ] && podman logs "$c" 2>/dev/null | grep -c '"event":"output_uploaded"'
}
t0=$(elapsed)
# The store's image (the tests' pinned s3rver on Debian's Node); npm trusts the host's CA bundle,
# for a registry behind a proxy with a local CA.
if ! timeout 900 podman build --isolation=chroot -f Containerfile --target s3rver \
     "${build_args[@]}" --volume /etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro \
     --build-arg NODE_EXTRA_CA_CERTS=/host-ca.crt -t renderer-s3rver:dev . \
     >>"$build_log" 2>&1; then
  tail -30 "$build_log"
  fail "build: the s3rver stage failed (log: $build_log)"
fi
timeout 900 podman-compose -p "$project" -f "$compose_file" --profile s3 up --build renderer-s3 \
  >"$work/compose-s3.log" 2>&1 ||
  timeout 900 podman-compose -p "$project" -f "$compose_file" up --build renderer-s3 \
    >>"$work/compose-s3.log" 2>&1 &
up_pid=$!
deadline=$(($(elapsed) + 600))
while [ "$(elapsed)" -lt "$deadline" ] && kill -0 "$up_pid" 2>/dev/null; do
  [ "$(uploaded_count)" = 2 ] && break
  sleep 2
done
stats=$(curl -fsS -m 5 -H "Authorization: Bearer $(cat "$RENDERER_API_TOKEN_FILE")" \
  "http://127.0.0.1:$RENDERER_API_PORT_S3/api/stats" 2>&1)
worker=$(container_of renderer-s3)
mounts=$([ -n "$worker" ] &&
  podman inspect "$worker" --format '{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}')
if [ "$(uploaded_count)" = 2 ] && ! echo "$mounts" | grep -Eq 'bind:/(content|output)' &&
   python3 -c 'import json, sys; assert json.loads(sys.argv[1])["by_status"]["rendered"] == 2' \
     "$stats" 2>/dev/null; then
  pass "compose profile s3: both sample jobs rendered from s3rver and uploaded back, the" \
    "worker sharing no volume ($(took); api stats $stats)"
else
  tail -40 "$work/compose-s3.log"
  fail "compose profile s3: uploads $(uploaded_count), mounts '$mounts', api stats '$stats'"
fi
timeout 120 podman-compose -p "$project" -f "$compose_file" down >/dev/null 2>&1
kill "$up_pid" 2>/dev/null
wait "$up_pid" 2>/dev/null

finish
