#!/usr/bin/env python3
"""Static checks of the deployment files: the Kubernetes manifests (infra/k8s), the compose file
and the Containerfile parse, name the expected objects, and agree with each other and with the
worker's settings (env vars, probes, the token as a mounted file, grace periods, volumes for
TMP_DIR and OUTPUT_DIR, a read-only root as a non-root user, KEDA on the API's queue depth).

Results are printed in GoogleTest's format so scripts/gtest_summary.py counts them with the rest.
Needs PyYAML (Debian's python3-yaml; scripts/deps.sh installs it)."""
import json
import re
import sys
import time
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
NAMESPACE = "renderer"
SECRET = "renderer-api-token"


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def k8s_objects():
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def seconds(text):
    """Compose durations: 45s, 1m30s, 2m, or a bare number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?", str(text))
    assert parts and any(parts.groups()), f"unreadable duration {text!r}"
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def env_value(container, name):
    entry = env_of(container)[name]
    assert "value" in entry, f"{name} has no literal value"
    return str(entry["value"])


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


class KubernetesManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = k8s_objects()
        cls.deployment = cls.objects[("Deployment", "renderer")]
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        containers = {c["name"]: c for c in cls.pod["containers"]}
        cls.container = containers["renderer"]

    def test_expected_objects_in_one_namespace(self):
        for key in [("Namespace", NAMESPACE), ("Deployment", "renderer"), ("Secret", SECRET),
                    ("ScaledObject", "renderer"), ("TriggerAuthentication", "renderer-api-auth"),
                    ("PersistentVolumeClaim", "renderer-content"),
                    ("PersistentVolumeClaim", "renderer-output")]:
            self.assertIn(key, self.objects)
        for (kind, name), doc in self.objects.items():
            if kind != "Namespace":
                self.assertEqual(doc["metadata"].get("namespace"), NAMESPACE, f"{kind}/{name}")

    def test_kustomization_lists_existing_files(self):
        kustomization = load_all(K8S / "kustomization.yaml")[0]
        self.assertEqual(kustomization["namespace"], NAMESPACE)
        for resource in kustomization["resources"]:
            self.assertTrue((K8S / resource).is_file(), resource)
        self.assertIn("deployment.yaml", kustomization["resources"])
        self.assertIn("keda-scaledobject.yaml", kustomization["resources"])
        # The example Secret holds a placeholder: it must never be applied by accident.
        self.assertNotIn("secret.example.yaml", kustomization["resources"])
        image = self.container["image"].split(":")[0]
        self.assertIn(image, [i["name"] for i in kustomization["images"]])

    def test_env_names_the_settings_the_worker_reads(self):
        env = env_of(self.container)
        for name in ["API_BASE_URL", "API_AUTH_TOKEN_FILE", "METRICS_ADDR", "CONTENT_DIR",
                     "MUSIC_DIR", "OUTPUT_DIR", "TMP_DIR", "POLL_INTERVAL_MS", "MAX_CONCURRENT",
                     "LEASE_SECONDS", "SHUTDOWN_GRACE_SEC", "MIN_FREE_BYTES"]:
            self.assertIn(name, env)
        self.assertNotIn("API_AUTH_TOKEN", env, "the token is a mounted file, never an env var")
        self.assertRegex(env_value(self.container, "API_BASE_URL"), r"^https?://")
        self.assertIn("--json-logs", self.container.get("args", []))

    def test_token_is_the_secret_mounted_as_a_file(self):
        token_file = Path(env_value(self.container, "API_AUTH_TOKEN_FILE"))
        mounts = {m["name"]: m for m in self.container["volumeMounts"]}
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        secret_volumes = [v for v in volumes.values()
                          if v.get("secret", {}).get("secretName") == SECRET]
        self.assertEqual(len(secret_volumes), 1)
        volume = secret_volumes[0]
        mount = mounts[volume["name"]]
        self.assertTrue(mount.get("readOnly"))
        items = {i["path"]: i["key"] for i in volume["secret"].get("items", [])}
        relative = token_file.relative_to(mount["mountPath"])
        self.assertEqual(items.get(str(relative)), "token")
        secret = self.objects[("Secret", SECRET)]
        self.assertIn("token", secret.get("stringData", secret.get("data", {})))

    def test_probes_ask_the_metrics_server(self):
        port = port_of(env_value(self.container, "METRICS_ADDR"))
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports.get("metrics"), port)
        for probe, path in [("livenessProbe", "/livez"), ("readinessProbe", "/readyz")]:
            get = self.container[probe]["httpGet"]
            self.assertEqual(get["path"], path)
            self.assertIn(get["port"], ("metrics", port))
        self.assertTrue(env_value(self.container, "METRICS_ADDR").startswith("0.0.0.0:"),
                        "the kubelet probes the pod IP, not loopback")

    def test_non_root_with_a_read_only_root_filesystem(self):
        pod_ctx = self.pod["securityContext"]
        ctx = self.container["securityContext"]
        self.assertTrue(pod_ctx.get("runAsNonRoot") or ctx.get("runAsNonRoot"))
        self.assertNotEqual(pod_ctx.get("runAsUser", ctx.get("runAsUser")), 0)
        self.assertIs(ctx.get("readOnlyRootFilesystem"), True)
        self.assertIs(ctx.get("allowPrivilegeEscalation"), False)
        self.assertIn("ALL", ctx.get("capabilities", {}).get("drop", []))

    def test_writable_volumes_for_tmp_and_output(self):
        mounts = {m["mountPath"]: m for m in self.container["volumeMounts"]}
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        for name in ["TMP_DIR", "OUTPUT_DIR"]:
            path = env_value(self.container, name)
            self.assertIn(path, mounts, f"{name} {path} must be a volume: the root is read-only")
            self.assertFalse(mounts[path].get("readOnly", False), name)
            self.assertIn(mounts[path]["name"], volumes)
        content = mounts[env_value(self.container, "CONTENT_DIR")]
        self.assertTrue(content.get("readOnly"), "workers only read the content")

    def test_termination_grace_exceeds_shutdown_grace(self):
        grace = int(env_value(self.container, "SHUTDOWN_GRACE_SEC"))
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], grace)

    def test_resources_have_requests_and_limits(self):
        resources = self.container["resources"]
        for kind in ["requests", "limits"]:
            for what in ["cpu", "memory"]:
                self.assertIn(what, resources.get(kind, {}), f"{kind}.{what}")

    def test_network_policy_admits_only_the_metrics_port(self):
        # Issue 11.3: the metrics port binds 0.0.0.0 and answers without auth; a NetworkPolicy
        # keeps everyone but the scraper away from it (and from the pod altogether).
        policies = [doc for (kind, _), doc in self.objects.items() if kind == "NetworkPolicy"]
        self.assertEqual(len(policies), 1, "one NetworkPolicy for the workers")
        policy = policies[0]
        kustomization = load_all(K8S / "kustomization.yaml")[0]
        files = {doc["metadata"]["name"]: path.name for path in K8S.glob("*.yaml")
                 for doc in load_all(path) if doc.get("kind") == "NetworkPolicy"}
        self.assertIn(files[policy["metadata"]["name"]], kustomization["resources"])
        spec = policy["spec"]
        pod_labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        selector = spec["podSelector"]["matchLabels"]
        self.assertTrue(selector)
        for key, value in selector.items():
            self.assertEqual(pod_labels.get(key), value, f"the policy selects the pods ({key})")
        self.assertIn("Ingress", spec["policyTypes"])
        metrics_port = port_of(env_value(self.container, "METRICS_ADDR"))
        rules = spec.get("ingress", [])
        self.assertTrue(rules, "the scraper must still get in")
        for rule in rules:
            self.assertTrue(rule.get("from"), "every rule names who may connect")
            self.assertTrue(rule.get("ports"), "every rule names the port")
            for port in rule["ports"]:
                self.assertIn(port["port"], (metrics_port, "metrics"))
                self.assertEqual(port.get("protocol", "TCP"), "TCP")

    def test_keda_scales_the_deployment_on_queue_depth(self):
        scaled = self.objects[("ScaledObject", "renderer")]["spec"]
        self.assertEqual(scaled["scaleTargetRef"]["name"], self.deployment["metadata"]["name"])
        self.assertLessEqual(scaled["minReplicaCount"], scaled["maxReplicaCount"])
        [trigger] = scaled["triggers"]
        self.assertEqual(trigger["type"], "metrics-api")
        meta = trigger["metadata"]
        self.assertEqual(meta["valueLocation"], "queue_depth")
        base = env_value(self.container, "API_BASE_URL").rstrip("/")
        self.assertTrue(meta["url"].startswith(base + "/api/render-jobs?"), meta["url"])
        self.assertIn("status=queued", meta["url"])
        self.assertEqual(meta["authMode"], "bearer")
        auth_name = trigger["authenticationRef"]["name"]
        auth = self.objects[("TriggerAuthentication", auth_name)]["spec"]
        refs = {r["parameter"]: r for r in auth["secretTargetRef"]}
        self.assertEqual(refs["token"]["name"], SECRET)
        self.assertEqual(refs["token"]["key"], "token")


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = load_all(ROOT / "infra" / "docker-compose.yml")[0]
        cls.services = cls.compose["services"]

    def test_services_build_from_the_containerfile(self):
        self.assertEqual(set(self.services), {"api", "renderer"})
        for name, service in self.services.items():
            self.assertEqual(service["build"]["context"], "..", name)
            self.assertEqual(service["build"]["dockerfile"], "Containerfile", name)
        self.assertEqual(self.services["api"]["build"]["target"], "devapi")
        self.assertNotIn("target", self.services["renderer"]["build"], "production = default")

    def test_renderer_env_and_mounts_follow_the_spec(self):
        renderer = self.services["renderer"]
        env = renderer["environment"]
        self.assertEqual(env["API_BASE_URL"], "http://api:8080")
        for name, value in [("CONTENT_DIR", "/content"), ("MUSIC_DIR", "/content/audio/music"),
                            ("OUTPUT_DIR", "/output"), ("TMP_DIR", "/tmp/renderer")]:
            self.assertEqual(env[name], value)
        self.assertNotIn("API_AUTH_TOKEN", env)
        self.assertEqual(env["API_AUTH_TOKEN_FILE"], "/run/secrets/api_token")
        self.assertIn("api_token", renderer["secrets"])
        mounts = {}
        for volume in renderer["volumes"]:
            # source:target[:mode], where the source may be ${VAR:-default}
            m = re.fullmatch(r"(\$\{[^}]*\}|[^:]+):([^:]+)(?::(\w+))?", volume)
            self.assertTrue(m, volume)
            mounts[m.group(2)] = (m.group(1), m.group(3))
        self.assertIn("./content", mounts["/content"][0])
        self.assertEqual(mounts["/content"][1], "ro")
        self.assertIn("./output", mounts["/output"][0])
        self.assertIn("--json-logs", renderer["command"])

    def test_stop_grace_period_exceeds_shutdown_grace(self):
        renderer = self.services["renderer"]
        grace = int(renderer["environment"]["SHUTDOWN_GRACE_SEC"])
        self.assertGreater(seconds(renderer["stop_grace_period"]), grace)

    def test_api_is_seeded_from_the_same_content(self):
        api = self.services["api"]
        command = api["command"]
        self.assertEqual(command[command.index("--seed-stories") + 1], "/content/stories")
        self.assertEqual(command[command.index("--token-file") + 1], "/run/secrets/api_token")
        self.assertEqual(command[command.index("--port") + 1], "8080")
        self.assertIn("api", self.services["renderer"]["depends_on"])
        self.assertIn("api_token", self.compose["secrets"])


class Containerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text = (ROOT / "Containerfile").read_text(encoding="utf-8")
        # Instructions with their continuation lines joined, comments dropped.
        text = re.sub(r"\\\n", " ", "\n".join(
            line for line in text.splitlines() if not line.lstrip().startswith("#")))
        cls.instructions = [line.strip() for line in text.splitlines() if line.strip()]
        last_from = max(i for i, line in enumerate(cls.instructions) if line.startswith("FROM "))
        cls.final = cls.instructions[last_from:]

    def final_stage(self, keyword):
        return [line[len(keyword) + 1:].strip() for line in self.final
                if line.startswith(keyword + " ")]

    def test_debian_13_stages_debian_12_by_build_arg(self):
        # The global ARG before the first FROM picks the Debian release of every stage: 13
        # (trixie) by default, 12 (bookworm) with --build-arg DEBIAN_SUITE=bookworm.
        first_from = next(i for i, line in enumerate(self.instructions) if line.startswith("FROM "))
        global_args = dict(line[4:].strip().partition("=")[::2]
                           for line in self.instructions[:first_from] if line.startswith("ARG "))
        self.assertEqual(global_args.get("DEBIAN_SUITE"), "trixie", global_args)
        froms = [line for line in self.instructions if line.startswith("FROM ")]
        self.assertTrue(any("debian:${DEBIAN_SUITE} " in f for f in froms), froms)
        self.assertTrue(any("debian:${DEBIAN_SUITE}-slim " in f for f in froms), froms)
        # Each release's runtime libraries are named (their sonames differ: libavcodec61 on 13,
        # libavcodec59 on 12), and another suite fails the build rather than guessing.
        installs = " ".join(line for line in self.instructions
                            if line.startswith("RUN ") and "apt-get install" in line)
        for suite, libavcodec in [("trixie", "libavcodec61"), ("bookworm", "libavcodec59")]:
            self.assertRegex(installs, rf"{suite}\)[^;]*\b{libavcodec}\b", suite)
        self.assertRegex(installs, r"\*\) echo [^;]*; exit 1 ;;")

    def test_default_target_runs_the_worker_as_non_root(self):
        self.assertEqual(json.loads(self.final_stage("ENTRYPOINT")[-1]), ["renderer"])
        self.assertEqual(json.loads(self.final_stage("CMD")[-1]), ["--json-logs"])
        user = ([u for u in self.final_stage("USER")] or
                [line[5:].strip() for line in self.instructions if line.startswith("USER ")])[-1]
        self.assertRegex(user, r"^[1-9][0-9]*(:[0-9]+)?$", "numeric, for runAsNonRoot")
        self.assertIn('["renderer", "healthcheck"]', " ".join(self.final_stage("HEALTHCHECK")))
        labels = " ".join(self.final_stage("LABEL"))
        for label in ["org.opencontainers.image.title", "org.opencontainers.image.version",
                      "org.opencontainers.image.revision"]:
            self.assertIn(label, labels)

    def test_no_ffmpeg_package_is_installed(self):
        for line in self.instructions:
            if line.startswith("RUN ") and "apt-get install" in line:
                self.assertNotRegex(line, r"(?<![\w-])(ffmpeg|ffprobe)(?![\w-])", line)


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
