#!/usr/bin/env python3
"""What object storage costs a render (issue 15, DESIGN §4.1): the same job rendered by the real
worker from a local CONTENT_DIR and from s3rver on loopback (frames_url, music_url and
output_url in a bucket), alternating, each run a fresh `renderer worker --exit-when-idle`
against the reference API. Target: the object-storage job adds at most 10 % wall time.

For every run it records the worker process's wall time, the render's own wall time (`done`),
and for the object-storage runs the download (`inputs_downloaded`: files, bytes, seconds) and
the upload (`output_uploaded`). The bucket is filled once by `renderer-devapi --seed-bucket`
(itself exercised here). s3rver is used directly, without the tests' signature-checking proxy,
which buffers every answer. The MP4 from the bucket must equal the local one byte for byte.

Not a unit test: figures depend on the machine. Prints a Markdown summary with the machine's
load (and writes it with --out).

  nice bench/storage_bench.py                      # W1, preset medium, 3 runs of each
  nice bench/storage_bench.py --repeat 1 --preset veryfast   # a smoke run
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "storage-bench-token-0123456789"
BUCKET = "bench"
# s3rver's fixed development key; it checks no signature.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_REGION": "us-east-1"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, limit, what):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"storage_bench: {what} within {limit} s")


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def events(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def post_job(api, job):
    req = urllib.request.Request(f"{api}/api/render-jobs", data=json.dumps(job).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {TOKEN}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        assert answer.status in (200, 201), answer.status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--renderer", default=os.path.join(ROOT, "build", "src", "app", "renderer"))
    ap.add_argument("--devapi",
                    default=os.path.join(ROOT, "build", "src", "app", "renderer-devapi"))
    ap.add_argument("--workloads", default=os.environ.get("BENCH_DIR", "/var/tmp/renderer-bench"))
    ap.add_argument("--workload", default="w1_kenburns_1080p")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="also write the Markdown summary here")
    args = ap.parse_args()

    frames = os.path.join(args.workloads, args.workload, "frames")
    music = os.path.join(args.workloads, "music", "background.mp3")
    if not os.path.isdir(frames) or not os.path.isfile(music):
        raise SystemExit(f"storage_bench: no {frames} or {music}: run "
                         "/work/shared/bench/make_workloads.sh (or bench/make_workloads.sh) first")
    s3rver = os.path.join(ROOT, "tests", "node", "node_modules", "s3rver", "bin", "s3rver.js")
    if not os.path.isfile(s3rver):
        raise SystemExit("storage_bench: no s3rver: run scripts/deps.sh (npm ci in tests/node)")

    work = tempfile.mkdtemp(prefix="storage-bench-")
    children = []
    try:
        # The local layout the worker reads: CONTENT_DIR/stories/<story>/<part>/frames.
        content = os.path.join(work, "content")
        os.makedirs(os.path.join(content, "stories", "w1", "p1"))
        os.symlink(frames, os.path.join(content, "stories", "w1", "p1", "frames"))
        os.makedirs(os.path.join(content, "music"))
        shutil.copy(music, os.path.join(content, "music", "background.mp3"))
        with open(os.path.join(work, "token"), "w") as f:
            f.write(TOKEN)

        s3_port = free_port()
        s3_log = open(os.path.join(work, "s3rver.log"), "w")
        children.append(subprocess.Popen(
            ["node", "--openssl-legacy-provider", s3rver, "--address", "127.0.0.1", "--port",
             str(s3_port), "--directory", os.path.join(work, "s3"), "--configure-bucket", BUCKET,
             "--silent"], stdout=s3_log, stderr=subprocess.STDOUT))
        wait_for(lambda: listening(s3_port), 30, "s3rver did not listen")
        endpoint = f"http://127.0.0.1:{s3_port}"
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, **AWS_ENV)

        # The bucket filled by the reference API's --seed-bucket, timed: it is also the upload
        # throughput of the storage library for many small objects.
        t0 = time.monotonic()
        port_file = os.path.join(work, "seed-port")
        seeder = subprocess.Popen(
            [args.devapi, "--json-logs", "--port", "0", "--port-file", port_file,
             "--token-file", os.path.join(work, "token"), "--seed-stories",
             os.path.join(content, "stories"), "--seed-bucket", f"s3://{BUCKET}/w1",
             "--seed-music", music], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        children.append(seeder)
        wait_for(lambda: os.path.exists(port_file) or seeder.poll() is not None, 1800,
                 "the bucket was not seeded")
        seed_sec = time.monotonic() - t0
        seeder.terminate()
        seed_out = seeder.communicate(timeout=30)[0]
        seeded = [e for e in events(seed_out) if e.get("event") == "bucket_seeded"]
        if not seeded:
            raise SystemExit(f"storage_bench: seeding failed:\n{seed_out[-3000:]}")
        frame_bytes = sum(os.path.getsize(os.path.join(frames, n)) for n in os.listdir(frames))
        log(f"seeded {seeded[0]['objects']} objects ({frame_bytes / 1e6:.0f} MB) in {seed_sec:.1f} s")

        api_port = free_port()
        api_log = open(os.path.join(work, "devapi.log"), "w")
        children.append(subprocess.Popen(
            [args.devapi, "--json-logs", "--port", str(api_port), "--token-file",
             os.path.join(work, "token")], stdout=api_log, stderr=subprocess.STDOUT))
        wait_for(lambda: listening(api_port), 30, "the reference API did not listen")
        api = f"http://127.0.0.1:{api_port}"

        worker_env = dict(env, API_BASE_URL=api, API_AUTH_TOKEN_FILE=os.path.join(work, "token"),
                          CONTENT_DIR=content, MUSIC_DIR=os.path.join(content, "music"),
                          OUTPUT_DIR=os.path.join(work, "output"),
                          TMP_DIR=os.path.join(work, "tmp"), X264_PRESET=args.preset,
                          RENDER_CACHE="0", POLL_INTERVAL_MS="100", MAX_CONCURRENT="1",
                          MIN_FREE_BYTES="64M", LEASE_SECONDS="120")
        worker_env.pop("METRICS_ADDR", None)
        runs = {"local": [], "s3": []}
        for rep in range(args.repeat):
            # Each repetition is a pair, in alternating order, so a drift in the machine's load
            # weighs on both modes alike.
            for mode in (["local", "s3"] if rep % 2 == 0 else ["s3", "local"]):
                job_id = f"{mode}-{rep}"
                job = {"id": job_id, "story_id": "w1", "part_id": "p1"}
                if mode == "s3":
                    base = f"s3://{BUCKET}/w1/"
                    job.update(frames_url=base + "stories/w1/p1/frames/",
                               music_url=base + "music/background.mp3",
                               output_url=base + f"out/{job_id}.mp4")
                post_job(api, job)
                t0 = time.monotonic()
                cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                done = subprocess.run([args.renderer, "--json-logs", "worker", "--exit-when-idle"],
                                      env=worker_env, capture_output=True, text=True,
                                      timeout=3600)
                wall = time.monotonic() - t0
                cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                # The worker's user + system CPU: less at the mercy of the machine's load than
                # wall time, and what a download costs the pod's CPU quota.
                cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
                ev = {e["event"]: e for e in events(done.stdout) if "event" in e}
                if done.returncode != 0 or "done" not in ev:
                    raise SystemExit(f"storage_bench: {job_id} failed (exit {done.returncode}):\n"
                                     f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
                run = {"wall": wall, "cpu": cpu, "render": ev["done"]["wall_sec"]}
                if mode == "s3":
                    run["download"] = ev["inputs_downloaded"]["wall_sec"]
                    run["download_bytes"] = ev["inputs_downloaded"]["bytes"]
                    run["upload"] = ev["output_uploaded"]["wall_sec"]
                runs[mode].append(run)
                log(f"{job_id}: {wall:.1f} s, CPU {cpu:.1f} s (render {run['render']:.1f} s"
                    + (f", download {run['download']:.2f} s, upload {run['upload']:.2f} s"
                       if mode == "s3" else "") + ")")

        # Identical inputs and settings: the bucket's MP4 is the local one, byte for byte.
        local_mp4 = os.path.join(work, "output", "w1_p1.mp4")
        # s3rver keeps an object's bytes in DIR/BUCKET/KEY._S3rver_object.
        stored = os.path.join(work, "s3", BUCKET, "w1", "out",
                              f"s3-{args.repeat - 1}.mp4._S3rver_object")
        same = (os.path.exists(stored) and os.path.exists(local_mp4) and
                sha256(stored) == sha256(local_mp4))

        def med(mode, key):
            return statistics.median(r[key] for r in runs[mode])

        local_wall, s3_wall = med("local", "wall"), med("s3", "wall")
        added = (s3_wall - local_wall) / local_wall * 100
        # The same, pair by pair: each s3 run against the local run next to it in time.
        paired = statistics.median((s["wall"] - l["wall"]) / l["wall"] * 100
                                   for l, s in zip(runs["local"], runs["s3"]))
        # What the s3 job spends outside its render (listing, music, upload, the API) and
        # how much longer its render is (waiting for frames, sharing the CPU with the download).
        outside = {m: med(m, "wall") - med(m, "render") for m in runs}
        local_cpu, s3_cpu = med("local", "cpu"), med("s3", "cpu")
        added_cpu = (s3_cpu - local_cpu) / local_cpu * 100
        dl_bytes = runs["s3"][0]["download_bytes"]
        dl_sec = med("s3", "download")
        load = os.getloadavg()
        lines = [
            f"Storage bench ({args.workload}, {len(os.listdir(frames))} frames, "
            f"{frame_bytes / 1e6:.0f} MB of PNGs; preset {args.preset}; {args.repeat} runs of each, "
            "medians; s3rver on loopback)",
            "",
            "| | worker wall s | worker CPU s | render s | download s | upload s |",
            "|---|---|---|---|---|---|",
            f"| local CONTENT_DIR | {local_wall:.1f} | {local_cpu:.1f} | "
            f"{med('local', 'render'):.1f} | – | – |",
            f"| s3:// frames, music, output | {s3_wall:.1f} | {s3_cpu:.1f} | "
            f"{med('s3', 'render'):.1f} | {dl_sec:.2f} | {med('s3', 'upload'):.2f} |",
            "",
            f"- added wall time: **{added:+.1f} %** (target <= 10 %) between the medians, "
            f"{paired:+.1f} % as the median of the {args.repeat} pairs; added CPU time "
            f"{added_cpu:+.1f} %",
            f"- outside the render (worker wall - render wall, medians): local "
            f"{outside['local']:.2f} s, s3 {outside['s3']:.2f} s; the render itself: local "
            f"{med('local', 'render'):.2f} s, s3 {med('s3', 'render'):.2f} s (its frames "
            "download while it runs)",
            f"- download: {dl_bytes / 1e6:.0f} MB in {dl_sec:.2f} s = "
            f"{dl_bytes / 1e6 / dl_sec:.0f} MB/s (STORAGE_PARALLEL default)",
            f"- seeding the bucket (renderer-devapi --seed-bucket, sequential PUTs): "
            f"{seeded[0]['objects']} objects in {seed_sec:.1f} s",
            f"- bucket MP4 identical to the local one: {'yes' if same else 'NO'}",
            f"- every run, wall s: local {[round(r['wall'], 1) for r in runs['local']]}, "
            f"s3 {[round(r['wall'], 1) for r in runs['s3']]}; download s "
            f"{[round(r['download'], 2) for r in runs['s3']]}",
            f"- machine: {os.cpu_count()} CPUs, load average at the end "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        return 0 if same else 1
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
