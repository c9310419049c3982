#!/usr/bin/env python3
"""The autoscaling semantics of infra/k8s, simulated with real parts (issue 18): the reference job
API (renderer-devapi) and real `renderer worker` processes on 127.0.0.1, sized by a scripted
controller that does what KEDA does with the manifests' own trigger and settings, and short real
renders (PNG frames written here, the test MP3, H.264/AAC MP4s probed at the end).

- ScaledJob (infra/k8s/scaledjob.yaml): KEDA's `accurate` strategy on queue_depth starts workers
  with the manifest's args (--exit-when-idle); nothing ever stops one. Every job is rendered once,
  no render is cancelled, every worker exits 0 on its own.
- Deployment (infra/k8s/deployment/): long-lived workers sized to the API's backlog, the
  manifest's JOB_TIMEOUT_SEC and SHUTDOWN_GRACE_SEC; when the backlog falls below the fleet the
  controller removes one pod per tick with SIGTERM, picking the busiest (Kubernetes picks blind:
  all pods are Ready, so the worst pick is the one to test). The busy victim finishes its render.
- The setting before issue 18, for contrast: the same Deployment scaled on queue_depth with a
  shutdown grace shorter than a render. Its renders are cancelled and requeued until the API's
  attempt cap ends the job errored; the checks that pass for the two paths above report it, so
  they can fail.

Renders last a few CPU seconds. Nothing here asserts a duration: the controller acts on what the
API and the worker logs say, and the order of events in the logs (a SIGTERM between a job's
claim and its done) shows that a signal landed mid-render. Deadlines only stop a hung run.

Results are printed in GoogleTest's format so scripts/gtest_summary.py counts them with the rest.
Needs PyYAML (Debian's python3-yaml; scripts/deps.sh installs it)."""
import json
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
BUILD = Path(os.environ.get("MESON_BUILD_ROOT", ROOT / "build"))
RENDERER = Path(os.environ.get("RENDERER_BIN", BUILD / "src/app/renderer"))
DEVAPI = Path(os.environ.get("RENDERER_DEVAPI_BIN", BUILD / "src/app/renderer-devapi"))
TESTDATA = Path(os.environ.get("RENDERER_TESTDATA", ROOT / "testdata"))

# The fleet's ceiling in the simulation (maxReplicaCount is 10 in the manifests; 3 keeps a loaded
# 2-core machine usable and still runs renders side by side).
MAX_PODS = 3
TICK_SEC = 0.25  # KEDA's pollingInterval, compressed
# A hung run is stopped here and reported with its logs; a loaded machine needs minutes.
SCENARIO_DEADLINE_SEC = 600
# One job much longer than the others: while it renders the short ones finish, so the backlog
# falls below the fleet with a render still running, and that render is the busiest pod's.
LONG_FRAMES = 120
SHORT_FRAMES = 12
SHORT_JOBS = 4
FRAME_W, FRAME_H = 320, 180
# Worker events that mean a render was stopped before its end (JSON logs' "event").
STOPPED_RENDER_EVENTS = ("cancelled", "shutdown_cancelled", "lease_lost")
# Before issue 18: SHUTDOWN_GRACE_SEC=300 against renders of up to JOB_TIMEOUT_SEC=1800. Here a
# grace shorter than the long render (several seconds of x264 at preset slow) stands for it.
OLD_GRACE_SEC = 1


def manifest(path, kind):
    with open(path, encoding="utf-8") as f:
        return next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == kind)


def container_env(pod_spec):
    container = pod_spec["containers"][0]
    return container.get("args", []), {e["name"]: e.get("value") for e in container["env"]}


def manifest_settings():
    """What the simulation takes from the manifests, so it runs what an operator applies."""
    job = manifest(K8S / "scaledjob.yaml", "ScaledJob")
    job_args, job_env = container_env(job["spec"]["jobTargetRef"]["template"]["spec"])
    dep = manifest(K8S / "deployment" / "deployment.yaml", "Deployment")
    dep_args, dep_env = container_env(dep["spec"]["template"]["spec"])
    so = manifest(K8S / "deployment" / "scaling" / "scaledobject.yaml", "ScaledObject")
    return {
        "scaledjob": {
            "args": job_args,
            "metric": job["spec"]["triggers"][0]["metadata"]["valueLocation"],
            "target": float(job["spec"]["triggers"][0]["metadata"]["targetValue"]),
            "strategy": job["spec"]["scalingStrategy"]["strategy"],
            "env": job_env,
        },
        "deployment": {
            "args": dep_args,
            "metric": so["spec"]["triggers"][0]["metadata"]["valueLocation"],
            "target": float(so["spec"]["triggers"][0]["metadata"]["targetValue"]),
            "min": so["spec"].get("minReplicaCount", 1),
            "env": dep_env,
        },
    }


# ---- content ------------------------------------------------------------------------------------

def write_png(path, noise, offset):
    """An 8-bit RGB PNG cut from a noise buffer at `offset`: every frame differs, so x264 works
    for each one (identical frame files would be decoded once and encode almost for free)."""
    row = FRAME_W * 3
    raw = b"".join(b"\0" + noise[offset + y * row:offset + (y + 1) * row] for y in range(FRAME_H))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", FRAME_W, FRAME_H, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 1)))
        f.write(chunk(b"IEND", b""))


class Content:
    """Frame sets written once per run and hard-linked into each scenario's stories."""

    def __init__(self, work):
        self.work = work
        rng = random.Random(18)
        # 16 levels a channel: half the bytes on disk, still hard work for x264.
        noise = bytes(b & 0xF0 for b in rng.randbytes(FRAME_W * FRAME_H * 3 + 3 * 4096))
        self.frame_sets = {}
        for name, count in (("long", LONG_FRAMES), ("short", SHORT_FRAMES)):
            d = work / "frame-sets" / name
            d.mkdir(parents=True)
            for i in range(count):
                salt = 0 if name == "long" else 2048
                write_png(d / f"frame_{i + 1}.png", noise, 3 * ((i * 131 + salt) % 4096))
            self.frame_sets[name] = d
        self.music = work / "music"
        self.music.mkdir()
        shutil.copy(TESTDATA / "audio/music/background.mp3", self.music)

    def story(self, content_dir, story, part, frame_set):
        frames = content_dir / "stories" / story / part / "frames"
        frames.mkdir(parents=True)
        for f in self.frame_sets[frame_set].iterdir():
            os.link(f, frames / f.name)


# ---- the reference API --------------------------------------------------------------------------

class Api:
    def __init__(self, work, lease_seconds, max_attempts):
        self.token = "sim-" + os.urandom(12).hex()
        token_file = work / "token"
        token_file.write_text(self.token + "\n")
        token_file.chmod(0o600)
        self.token_file = token_file
        port_file = work / "api.port"
        self.log_path = work / "devapi.log"
        self.proc = subprocess.Popen(
            [str(DEVAPI), "--json-logs", "--port", "0", "--port-file", str(port_file),
             "--token-file", str(token_file), "--lease-seconds", str(lease_seconds),
             "--max-attempts", str(max_attempts)],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("renderer-devapi did not start: " + self.log_path.read_text())
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{int(port_file.read_text())}"

    def call(self, method, path, body=None):
        req = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read())

    def metric(self, name):
        """What KEDA's metrics-api trigger reads: a field of the workers' own poll answer."""
        return self.call("GET", "/api/render-jobs?status=queued&limit=1")[name]

    def create(self, story, part):
        return self.call("POST", "/api/render-jobs", {"story_id": story, "part_id": part})["id"]

    def job(self, job_id):
        return self.call("GET", f"/api/render-jobs/{job_id}")

    def stats(self):
        return self.call("GET", "/api/stats")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---- workers (the pods) -------------------------------------------------------------------------

class Pod:
    def __init__(self, name, args, env, log_path):
        self.name = name
        self.log_path = log_path
        self.proc = subprocess.Popen([str(RENDERER)] + args, env=env,
                                     stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        self.signalled = False
        self.signalled_busy_with = None  # the job it held when the controller sent SIGTERM

    def alive(self):
        return self.proc.poll() is None

    def events(self):
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "unparsed", "line": line})
        return out

    def started(self):
        return any(e.get("event") == "start" for e in self.events())

    def terminate(self, busy_with):
        self.signalled = True
        self.signalled_busy_with = busy_with
        self.proc.send_signal(signal.SIGTERM)


class Scenario:
    """One run: an API, a content dir, jobs, a controller, then everything collected."""

    def __init__(self, content, name, pod_args, pod_env, lease_seconds=30, max_attempts=5):
        self.content = content
        self.work = content.work / name
        self.work.mkdir()
        self.content_dir = self.work / "content"
        self.output = self.work / "output"
        self.output.mkdir()
        self.api = Api(self.work, lease_seconds, max_attempts)
        self.pod_args = pod_args
        self.pod_env = pod_env
        self.pods = []
        self.frames_of = {}  # job id -> frame count
        self.max_alive = 0
        self.ticks = 0

    def add_job(self, story, frame_set):
        self.content.story(self.content_dir, story, "p1", frame_set)
        job_id = self.api.create(story, "p1")
        self.frames_of[job_id] = LONG_FRAMES if frame_set == "long" else SHORT_FRAMES
        return job_id

    def start_pod(self):
        name = f"pod-{len(self.pods) + 1:02d}"
        tmp = self.work / "tmp" / name
        tmp.mkdir(parents=True)
        env = {
            "PATH": "/usr/bin:/bin", "LC_ALL": "C",
            "API_BASE_URL": self.api.base, "API_AUTH_TOKEN_FILE": str(self.api.token_file),
            "WORKER_NAME": name, "CONTENT_DIR": str(self.content_dir),
            "MUSIC_DIR": str(self.content.music), "OUTPUT_DIR": str(self.output),
            "TMP_DIR": str(tmp), "MIN_FREE_BYTES": "64M", "POLL_INTERVAL_MS": "200",
            "HTTP_TIMEOUT_SEC": "10",
            # One x264 thread and one decoder: a render costs seconds of CPU, not of cores.
            "X264_PRESET": "slow", "X264_THREADS": "1", "DECODE_THREADS": "1",
        }
        env.update(self.pod_env)
        pod = Pod(name, self.pod_args, env, self.work / f"{name}.log")
        self.pods.append(pod)
        return pod

    def alive(self):
        return [p for p in self.pods if p.alive()]

    def holders(self):
        """job id -> the pod holding its lease, from the API (what the sim may know and
        Kubernetes does not: it is used to pick the worst victim)."""
        held = {}
        for job_id in self.frames_of:
            job = self.api.job(job_id)
            if job["status"] in ("claimed", "rendering") and job.get("worker"):
                held[job["worker"]] = job_id
        return held

    def all_final(self):
        return all(self.api.job(j)["status"] in ("rendered", "errored") for j in self.frames_of)

    def run(self, tick, done):
        """Calls tick() every TICK_SEC until done() and no pod is left."""
        deadline = time.monotonic() + SCENARIO_DEADLINE_SEC
        while True:
            tick()
            self.ticks += 1
            self.max_alive = max(self.max_alive, len(self.alive()))
            if done() and not self.alive():
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.work.name}: not finished after {SCENARIO_DEADLINE_SEC} s\n" +
                    self.dump())
            time.sleep(TICK_SEC)

    def close(self):
        for p in self.pods:
            if p.alive():
                p.proc.kill()
                p.proc.wait()
        self.api.stop()

    def dump(self):
        text = f"--- {self.api.log_path}\n{self.api.log_path.read_text()[-4000:]}"
        for p in self.pods:
            text += f"\n--- {p.log_path}\n{p.log_path.read_text()[-3000:]}"
        return text

    # ---- what happened ---------------------------------------------------------------------

    def report(self):
        jobs = {j: self.api.job(j) for j in self.frames_of}
        pods = []
        for p in self.pods:
            events = p.events()
            names = [e.get("event") for e in events]
            mid_render = finished = False
            if p.signalled_busy_with:
                # The signal landed mid-render when the pod's own log has it after the job's
                # claim and before its done; the render survived it when the done follows.
                order = [(e.get("event"), e.get("job_id")) for e in events]
                j = p.signalled_busy_with
                if "signal" in names and ("claim", j) in order:
                    signalled = names.index("signal")
                    done_at = order.index(("done", j)) if ("done", j) in order else None
                    mid_render = (order.index(("claim", j)) < signalled and
                                  (done_at is None or done_at > signalled))
                    finished = done_at is not None and done_at > signalled
            pods.append({
                "name": p.name, "rc": p.proc.returncode, "signalled": p.signalled,
                "busy_with": p.signalled_busy_with, "mid_render": mid_render,
                "finished_after_signal": finished,
                "rendered": [e.get("job_id") for e in events if e.get("event") == "done"],
                "stopped_renders": [e for e in events if e.get("event") in STOPPED_RENDER_EVENTS],
                "shutdown_reason": next((e.get("reason") for e in events
                                         if e.get("event") == "shutdown"), None),
            })
        # The token never appears in any output, whatever the run did.
        logs = [self.api.log_path] + [p.log_path for p in self.pods]
        leaks = [f.name for f in logs if self.api.token in f.read_text(errors="replace")]
        return {"jobs": jobs, "pods": pods, "stats": self.api.stats(), "max_alive": self.max_alive,
                "outputs": sorted(f.name for f in self.output.iterdir()), "token_in": leaks}


def violations(report):
    """Everything that says scaling cost a render: the checks both production paths must pass."""
    found = []
    for job_id, job in report["jobs"].items():
        rendered = [h for h in job["history"] if h["status"] == "rendered"]
        if job["status"] != "rendered" or len(rendered) != 1:
            found.append(f"{job_id}: {job['status']}, rendered {len(rendered)} times "
                         f"({job.get('error_class', '')} {job.get('error_message', '')})")
        if job["attempts"] != 1:
            found.append(f"{job_id}: claimed {job['attempts']} times")
        if job["lease_expirations"] != 0:
            found.append(f"{job_id}: {job['lease_expirations']} lease expirations (requeued)")
    if report["stats"]["lease_expirations"] != 0:
        found.append(f"API: {report['stats']['lease_expirations']} lease expirations")
    for pod in report["pods"]:
        for e in pod["stopped_renders"]:
            found.append(f"{pod['name']}: {e.get('event')} {e.get('job_id', '')} "
                         f"({e.get('reason', e.get('cancelled_jobs', ''))})")
        if pod["rc"] != 0:
            found.append(f"{pod['name']}: exit code {pod['rc']}")
    found += [f"{name}: holds the API token" for name in report["token_in"]]
    done = [j for pod in report["pods"] for j in pod["rendered"]]
    for job_id in report["jobs"]:
        if done.count(job_id) != 1:
            found.append(f"{job_id}: done logged {done.count(job_id)} times by the workers")
    return found


def summary(name, report):
    pods = report["pods"]
    # One event a render stopped (shutdown_cancelled sums a shutdown's and is left out here).
    cancelled = sum(e.get("event") != "shutdown_cancelled" for p in pods
                    for e in p["stopped_renders"])
    by_status = report["stats"]["by_status"]
    return (f"{name}: {len(report['jobs'])} jobs ({by_status['rendered']} rendered, "
            f"{by_status['errored']} errored), {report['stats']['claims']} claims, "
            f"{report['stats']['lease_expirations']} lease expirations; {len(pods)} pods "
            f"(at most {report['max_alive']} at once), "
            f"{sum(p['signalled'] for p in pods)} SIGTERMed "
            f"({sum(bool(p['mid_render']) for p in pods)} mid-render), "
            f"{cancelled} renders cancelled or lease lost")


def probe(path):
    out = subprocess.run([str(RENDERER), "probe", "--compact", str(path)], capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    p = json.loads(out.stdout)
    return {s["type"]: s["codec"] for s in p["streams"]}, p["duration_sec"]


# ---- controllers --------------------------------------------------------------------------------

def scaledjob_tick(sim, metric, target, max_pods, strategy):
    """KEDA's ScaledJob loop: one Job (pod) per `target` queued jobs. `accurate`: creates
    maxScale - pending, or up to maxReplicaCount - running when that would exceed it (running
    counts every Job not finished, pending those whose pod has not started)."""
    assert strategy == "accurate", strategy
    max_scale = min(math.ceil(sim.api.metric(metric) / target), max_pods)
    alive = sim.alive()
    running = len(alive)
    pending = sum(not p.started() for p in alive)
    create = max_pods - running if max_scale + running > max_pods else max_scale - pending
    for _ in range(max(create, 0)):
        sim.start_pod()


class DeploymentController:
    """KEDA + the HPA on a Deployment: desired = ceil(metric / target) within min..max. Up at
    once; down only to the highest desired count of the last STABILIZATION_TICKS polls (the
    manifest's scaleDown stabilization window, compressed) and one pod a tick (its policy), the
    victim the busiest pod, the longest render first: the worst of the blind picks Kubernetes
    makes."""

    STABILIZATION_TICKS = 2

    def __init__(self, sim, metric, target, min_pods, max_pods):
        self.sim, self.metric, self.target = sim, metric, target
        self.min_pods, self.max_pods = min_pods, max_pods
        self.recent = []

    def tick(self):
        sim = self.sim
        raw = max(self.min_pods, min(self.max_pods, math.ceil(sim.api.metric(self.metric) /
                                                              self.target)))
        self.recent = (self.recent + [raw])[-self.STABILIZATION_TICKS:]
        active = [p for p in sim.alive() if not p.signalled]
        if raw > len(active):
            for _ in range(raw - len(active)):
                sim.start_pod()
        elif max(self.recent) < len(active):
            held = sim.holders()
            victim = max(active, key=lambda p: sim.frames_of.get(held.get(p.name), 0))
            victim.terminate(held.get(victim.name))


# ---- the tests ----------------------------------------------------------------------------------

class ScalingSimulation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="renderer-scaling-sim-"))
        cls.content = Content(cls.tmp)
        cls.settings = manifest_settings()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scenario(self, name, pod_args, pod_env, **api):
        sim = Scenario(self.content, name, pod_args, pod_env, **api)
        self.addCleanup(sim.close)
        return sim

    def queue_jobs(self, sim):
        # The long job first: the API hands out jobs in creation order.
        jobs = [sim.add_job("long", "long")]
        jobs += [sim.add_job(f"short{i}", "short") for i in range(1, SHORT_JOBS + 1)]
        return jobs

    def check_outputs(self, report):
        self.assertEqual(report["outputs"], sorted(f"{j.replace('-p1', '')}_p1.mp4"
                                                   for j in report["jobs"]))
        sim_dir = self.tmp / self._testMethodName
        for name in report["outputs"]:
            codecs, duration = probe(sim_dir / "output" / name)
            self.assertEqual(codecs, {"video": "h264", "audio": "aac"}, name)
            self.assertGreater(duration, 0.3, name)

    def test_scaledjob_starts_a_pod_per_queued_job_and_never_stops_one(self):
        s = self.settings["scaledjob"]
        self.assertIn("--exit-when-idle", s["args"])
        self.assertEqual(s["metric"], "queue_depth")
        sim = self.scenario(self._testMethodName, s["args"], {
            "MAX_CONCURRENT": s["env"]["MAX_CONCURRENT"],
            "JOB_TIMEOUT_SEC": s["env"]["JOB_TIMEOUT_SEC"],
            "SHUTDOWN_GRACE_SEC": s["env"]["SHUTDOWN_GRACE_SEC"]})
        self.queue_jobs(sim)
        sim.run(lambda: scaledjob_tick(sim, s["metric"], s["target"], MAX_PODS, s["strategy"]),
                sim.all_final)
        report = sim.report()
        print(summary("ScaledJob", report), flush=True)
        self.assertEqual(violations(report), [])
        # Scaled up: the first tick saw five queued jobs and started MAX_PODS pods.
        self.assertEqual(report["max_alive"], MAX_PODS)
        # Scaled down only by pods leaving on their own: none was signalled, each found the
        # queue empty and exited 0.
        for pod in report["pods"]:
            self.assertFalse(pod["signalled"], pod["name"])
            self.assertEqual(pod["shutdown_reason"], "idle", pod["name"])
        self.check_outputs(report)

    def test_deployment_on_the_backlog_scales_down_without_cancelling(self):
        s = self.settings["deployment"]
        self.assertEqual(s["metric"], "backlog")
        grace = int(s["env"]["SHUTDOWN_GRACE_SEC"])
        self.assertGreaterEqual(grace, int(s["env"]["JOB_TIMEOUT_SEC"]))
        sim = self.scenario(self._testMethodName, s["args"] + ["worker"], {
            "MAX_CONCURRENT": s["env"]["MAX_CONCURRENT"],
            "JOB_TIMEOUT_SEC": s["env"]["JOB_TIMEOUT_SEC"], "SHUTDOWN_GRACE_SEC": str(grace)})
        self.queue_jobs(sim)
        controller = DeploymentController(sim, s["metric"], s["target"], s["min"], MAX_PODS)
        sim.run(controller.tick, lambda: sim.api.metric("backlog") == 0)
        report = sim.report()
        print(summary("Deployment on the backlog", report), flush=True)
        self.assertEqual(violations(report), [])
        self.assertEqual(report["max_alive"], MAX_PODS)
        # Scaled down while renders ran: the long render's pod was SIGTERMed mid-render (its log
        # says signal between claim and done) and rendered it all the same.
        long_pod = next(p for p in report["pods"] if "long-p1" in p["rendered"])
        self.assertTrue(long_pod["signalled"], long_pod)
        self.assertEqual(long_pod["busy_with"], "long-p1")
        self.assertTrue(long_pod["mid_render"], long_pod)
        self.assertTrue(long_pod["finished_after_signal"], long_pod)
        # And the fleet went to zero once the backlog did: every pod removed by the controller.
        self.assertTrue(all(p["signalled"] for p in report["pods"]))
        self.check_outputs(report)

    def test_queue_depth_and_a_short_grace_cancel_renders(self):
        """The defect of issue 18, reproduced so the checks above are known to catch it: on
        queue_depth the fleet shrinks as soon as a job is claimed, the victim is busy, and a grace
        shorter than the render cancels it; the job is requeued and cancelled again until the
        API's attempt cap (2 here) ends it errored. It never renders."""
        s = self.settings["deployment"]
        sim = self.scenario(self._testMethodName, s["args"] + ["worker"], {
            "MAX_CONCURRENT": "1", "JOB_TIMEOUT_SEC": s["env"]["JOB_TIMEOUT_SEC"],
            "SHUTDOWN_GRACE_SEC": str(OLD_GRACE_SEC)}, lease_seconds=3, max_attempts=2)
        sim.add_job("long", "long")
        controller = DeploymentController(sim, "queue_depth", 1, 0, MAX_PODS)
        sim.run(controller.tick, sim.all_final)
        report = sim.report()
        print(summary("Deployment on queue_depth, grace shorter than a render", report),
              flush=True)
        found = violations(report)
        self.assertTrue(any("cancelled" in v for v in found), found)
        self.assertTrue(any("lease expirations" in v for v in found), found)
        self.assertGreaterEqual(report["stats"]["lease_expirations"], 1)
        self.assertEqual(report["token_in"], [])
        # A pod SIGTERMed mid-render that did not finish it.
        self.assertTrue(any(p["mid_render"] and not p["finished_after_signal"]
                            for p in report["pods"]), report["pods"])
        self.assertEqual(report["jobs"]["long-p1"]["status"], "errored")


class GTestStyleResult(unittest.TextTestResult):
    """Prints each test as GoogleTest does, so the suite summary counts these too."""

    def startTest(self, test):
        self._started = time.monotonic()
        print(f"[ RUN      ] {self.name(test)}", flush=True)
        super().startTest(test)

    def name(self, test):
        return f"{type(test).__name__}.{test._testMethodName}"

    def ms(self):
        return int((time.monotonic() - self._started) * 1000)

    def addSuccess(self, test):
        super().addSuccess(test)
        print(f"[       OK ] {self.name(test)} ({self.ms()} ms)", flush=True)

    def report_failure(self, test, err):
        print(self._exc_info_to_string(err, test), flush=True)
        print(f"[  FAILED  ] {self.name(test)} ({self.ms()} ms)", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.report_failure(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self.report_failure(test, err)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=open("/dev/null", "w"), resultclass=GTestStyleResult)
    result = runner.run(suite)
    print(f"[==========] {result.testsRun} tests ran; "
          f"{len(result.failures) + len(result.errors)} failed", flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
